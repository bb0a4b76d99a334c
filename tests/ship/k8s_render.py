"""A small offline renderer for docker/k8s: reads a kustomization (resources, configMapGenerator,
components with strategic-merge patches selected by kind + labelSelector) and returns the
objects, so the tests can check the pod the cluster would get without kubectl. It implements
only what docker/k8s uses and raises on anything else, so a new kustomize feature cannot be
silently ignored. When kubectl is installed the tests also compare with `kubectl kustomize`."""
import copy
import os

import yaml

# Lists of objects that the strategic merge patch merges by `name` (everything used in pods).
MERGE_BY_NAME = {"containers", "initContainers", "volumes", "env", "volumeMounts", "ports"}
SUPPORTED_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "components",
                                "labels", "patches", "namespace"}


def load_yaml_documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def strategic_merge(base, patch):
    """Merges `patch` into `base` (returns a new object): maps recursively, pod lists by name
    (patch entries first, as kustomize orders them), other lists and scalars replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if key in MERGE_BY_NAME and isinstance(value, list) and isinstance(base.get(key), list):
                out[key] = merge_named_list(base[key], value)
            elif key in out:
                out[key] = strategic_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def merge_named_list(base, patch):
    by_name = {item.get("name"): item for item in base}
    merged, used = [], set()
    for item in patch:
        name = item.get("name")
        merged.append(strategic_merge(by_name[name], item) if name in by_name else copy.deepcopy(item))
        used.add(name)
    return merged + [copy.deepcopy(item) for item in base if item.get("name") not in used]


def matches(obj, target):
    for key in target:
        if key not in ("group", "version", "kind", "labelSelector", "name"):
            raise ValueError(f"unsupported patch target field {key!r}")
    api = obj.get("apiVersion", "")
    group = api.split("/")[0] if "/" in api else ""
    if "group" in target and target["group"] != group:
        return False
    if "kind" in target and target["kind"] != obj.get("kind"):
        return False
    if "name" in target and target["name"] != obj.get("metadata", {}).get("name"):
        return False
    if "labelSelector" in target:
        labels = obj.get("metadata", {}).get("labels", {}) or {}
        for term in target["labelSelector"].split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def apply_patches(objects, patches, directory):
    for p in patches:
        if "path" not in p or "target" not in p:
            raise ValueError(f"{directory}: patches need path + target in this renderer: {p}")
        docs = load_yaml_documents(os.path.join(directory, p["path"]))
        if len(docs) != 1:
            raise ValueError(f"{p['path']}: expected one strategic-merge patch document")
        patch = {k: v for k, v in docs[0].items() if k not in ("apiVersion", "kind", "metadata")}
        for i, obj in enumerate(objects):
            if matches(obj, p["target"]):
                objects[i] = strategic_merge(obj, patch)
    return objects


def render(directory):
    """Objects of the kustomization in `directory` (ConfigMap names without the hash suffix)."""
    docs = load_yaml_documents(os.path.join(directory, "kustomization.yaml"))
    k = docs[0]
    unknown = set(k) - SUPPORTED_KUSTOMIZATION_KEYS
    if unknown:
        raise ValueError(f"{directory}/kustomization.yaml: renderer does not support {sorted(unknown)}")
    objects = []
    for res in k.get("resources", []):
        path = os.path.join(directory, res)
        objects += render(path) if os.path.isdir(path) else load_yaml_documents(path)
    for gen in k.get("configMapGenerator", []):
        data = {}
        for f in gen.get("files", []):
            key, _, source = f.partition("=") if "=" in f else (os.path.basename(f), "", f)
            with open(os.path.join(directory, source or f)) as fh:
                data[key] = fh.read()
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    for comp in k.get("components", []):
        comp_dir = os.path.join(directory, comp)
        c = load_yaml_documents(os.path.join(comp_dir, "kustomization.yaml"))[0]
        if c.get("kind") != "Component":
            raise ValueError(f"{comp}: kind is {c.get('kind')!r}, expected Component")
        for res in c.get("resources", []):
            objects += load_yaml_documents(os.path.join(comp_dir, res))
        apply_patches(objects, c.get("patches", []), comp_dir)
    apply_patches(objects, k.get("patches", []), directory)
    for label_set in k.get("labels", []):
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label_set.get("pairs", {}))
    return objects
