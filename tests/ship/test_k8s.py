#!/usr/bin/python3
"""Checks docker/k8s: every YAML parses; the rendered agent pod (kustomization + sidecar
component) has the security settings the design requires, checked field by field; the agent is
pointed at the sidecar's listeners from the embedded config.json; config.json passes
`sallyport check-config` and config/schema.json; policy.json follows the tool-policy format;
the Secret holds placeholders only; the NetworkPolicies deny by default; the component injects
into any labelled workload; the objects pass the Kubernetes OpenAPI schemas (kubernetes-models
from npm, offline) and, where kubectl is installed, `kubectl kustomize` renders the same pod."""
import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_render  # noqa: E402
import shiplib  # noqa: E402

AGENT_UID, ROUTER_UID = 1000, 1001
INIT_CAPS_ALLOWED = {"BPF", "NET_ADMIN", "SYS_ADMIN"}
CONTAINER_KEYS = {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports",
                  "securityContext", "resources", "volumeMounts", "readinessProbe", "livenessProbe",
                  "startupProbe", "workingDir", "lifecycle", "restartPolicy"}
SECURITY_KEYS = {"runAsUser", "runAsGroup", "runAsNonRoot", "privileged", "allowPrivilegeEscalation",
                 "readOnlyRootFilesystem", "seccompProfile", "capabilities"}


def rendered():
    return k8s_render.render(shiplib.K8S)


def by_kind(objects, kind):
    return [o for o in objects if o.get("kind") == kind]


def pod_spec(objects):
    deployments = by_kind(objects, "Deployment")
    assert len(deployments) == 1, f"expected one Deployment, got {len(deployments)}"
    return deployments[0]["spec"]["template"]["spec"]


def container(spec, name, init=False):
    for c in spec.get("initContainers" if init else "containers", []):
        if c["name"] == name:
            return c
    raise AssertionError(f"no {'init ' if init else ''}container {name!r}")


def effective(c, spec, key):
    """A securityContext field as the kubelet sees it: container value, else the pod's."""
    sc = c.get("securityContext", {})
    return sc[key] if key in sc else spec.get("securityContext", {}).get(key)


def hardening_problems(c, spec, uid, caps_allowed=frozenset()):
    name, sc, problems = c["name"], c.get("securityContext", {}), []
    unknown = (set(c) - CONTAINER_KEYS) | (set(sc) - SECURITY_KEYS)
    if unknown:
        problems.append(f"{name}: unknown fields {sorted(unknown)} (typo? Kubernetes would ignore them)")
    if effective(c, spec, "runAsUser") != uid:
        problems.append(f"{name}: runAsUser {effective(c, spec, 'runAsUser')}, expected {uid}")
    if uid != 0 and effective(c, spec, "runAsNonRoot") is not True:
        problems.append(f"{name}: runAsNonRoot is not true")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        problems.append(f"{name}: privileged")
    seccomp = (effective(c, spec, "seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        problems.append(f"{name}: seccompProfile {seccomp!r}, expected RuntimeDefault")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        problems.append(f"{name}: capabilities.drop is {caps.get('drop')!r}, expected [ALL]")
    extra = set(caps.get("add", [])) - set(caps_allowed)
    if extra:
        problems.append(f"{name}: adds capabilities {sorted(extra)}")
    return problems


def pod_problems(spec):
    """Every security requirement of the agent pod; empty list when it is right."""
    problems = []
    for flag in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"):
        if spec.get(flag):
            problems.append(f"pod: {flag} is true")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken is not false (the agent would get an API token)")
    try:
        agent, sidecar = container(spec, "agent"), container(spec, "sallyport")
        init = container(spec, "sallyport-bpf-attach", init=True)
    except AssertionError as e:
        return problems + [str(e)]
    problems += hardening_problems(agent, spec, AGENT_UID)
    problems += hardening_problems(sidecar, spec, ROUTER_UID)
    problems += hardening_problems(init, spec, 0, INIT_CAPS_ALLOWED)
    if not {"BPF", "NET_ADMIN"} <= set(init.get("securityContext", {}).get("capabilities", {}).get("add", [])):
        problems.append("sallyport-bpf-attach: needs CAP_BPF and CAP_NET_ADMIN")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        if c is not init and c.get("securityContext", {}).get("capabilities", {}).get("add"):
            problems.append(f"{c['name']}: only the init container may add capabilities")
    agent_env = {e["name"] for e in agent.get("env", [])}
    for e in agent.get("env", []):
        if "secretKeyRef" in e.get("valueFrom", {}):
            problems.append(f"agent: env {e['name']} comes from a Secret (keys belong to the sidecar)")
    for mount in agent.get("volumeMounts", []):
        if mount["name"].startswith("sallyport"):
            problems.append(f"agent: mounts sallyport's volume {mount['name']}")
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "OPENAI_BASE_URL"):
        if var not in agent_env:
            problems.append(f"agent: env {var} missing")
    return problems


def config_json(objects):
    cms = [c for c in by_kind(objects, "ConfigMap") if c["metadata"]["name"].startswith("sallyport-config")]
    assert len(cms) == 1, "expected one sallyport-config ConfigMap"
    return cms[0]


def env_refs(value, out):
    """Names of every {"env": NAME} secret/identity reference in a config."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            out.add(value["env"])
        for v in value.values():
            env_refs(v, out)
    elif isinstance(value, list):
        for v in value:
            env_refs(v, out)
    return out


class Manifests(unittest.TestCase):
    def setUp(self):
        self.objects = rendered()
        self.spec = pod_spec(self.objects)
        self.cm = config_json(self.objects)
        self.config = json.loads(self.cm["data"]["config.json"])

    def test_every_yaml_file_parses_into_kubernetes_or_kustomize_objects(self):
        count = 0
        for dirpath, _, files in os.walk(shiplib.K8S):
            for f in files:
                if f.endswith((".yaml", ".yml")):
                    for doc in k8s_render.load_yaml_documents(os.path.join(dirpath, f)):
                        self.assertIn("apiVersion", doc, f)
                        self.assertIn("kind", doc, f)
                        count += 1
        self.assertGreaterEqual(count, 8)

    def test_rendered_pod_meets_every_security_requirement(self):
        self.assertEqual(pod_problems(self.spec), [])

    def test_security_check_catches_each_weakening(self):
        def mutate(fn):
            spec = copy.deepcopy(self.spec)
            fn(spec)
            return pod_problems(spec)

        agent = lambda s: container(s, "agent")["securityContext"]  # noqa: E731
        sidecar = lambda s: container(s, "sallyport")["securityContext"]  # noqa: E731
        init = lambda s: container(s, "sallyport-bpf-attach", init=True)["securityContext"]  # noqa: E731
        cases = {
            "agent as root": lambda s: agent(s).update(runAsUser=0),
            "agent writable root": lambda s: agent(s).update(readOnlyRootFilesystem=False),
            "agent keeps caps": lambda s: agent(s)["capabilities"].update(drop=["NET_RAW"]),
            "agent escalates": lambda s: agent(s).pop("allowPrivilegeEscalation"),
            "agent seccomp typo": lambda s: agent(s).update(secompProfile={"type": "RuntimeDefault"}),
            "agent unconfined": lambda s: (agent(s).pop("seccompProfile"),
                                           s["securityContext"].update(seccompProfile={"type": "Unconfined"})),
            "sidecar uid": lambda s: sidecar(s).update(runAsUser=1000),
            "sidecar NET_ADMIN": lambda s: sidecar(s)["capabilities"].update(add=["NET_ADMIN"]),
            "init SYS_PTRACE": lambda s: init(s)["capabilities"].update(add=["BPF", "NET_ADMIN", "SYS_PTRACE"]),
            "init privileged": lambda s: init(s).update(privileged=True),
            "shared pid ns": lambda s: s.update(shareProcessNamespace=True),
            "host network": lambda s: s.update(hostNetwork=True),
            "agent gets a key": lambda s: container(s, "agent")["env"].append(
                {"name": "OPENAI_API_KEY_REAL", "valueFrom": {"secretKeyRef": {"name": "sallyport-secrets", "key": "openai-api-key"}}}),
            "agent no proxy env": lambda s: container(s, "agent").update(
                env=[e for e in container(s, "agent")["env"] if e["name"] != "HTTPS_PROXY"]),
            "no init container": lambda s: s.update(initContainers=[]),
        }
        for name, fn in cases.items():
            self.assertNotEqual(mutate(fn), [], f"security check missed: {name}")

    def test_agent_is_pointed_at_the_sidecar_listeners_of_config_json(self):
        listeners = self.config["listeners"]
        proxy_port = int(listeners["proxy"].rsplit(":", 1)[1])
        gateway_port = int(listeners["gateway"].rsplit(":", 1)[1])
        env = {e["name"]: e.get("value") for e in container(self.spec, "agent")["env"]}
        for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            self.assertEqual(env.get(var), f"http://127.0.0.1:{proxy_port}", var)
        self.assertEqual(env["OPENAI_BASE_URL"], f"http://127.0.0.1:{gateway_port}/v1")
        no_proxy = env["NO_PROXY"].split(",")
        self.assertIn("127.0.0.1", no_proxy)
        self.assertIn("localhost", no_proxy)
        # The proxy and gateway are for the agent in the pod only: loopback binds.
        for key in ("proxy", "gateway"):
            self.assertTrue(ipaddress.ip_address(listeners[key].rsplit(":", 1)[0]).is_loopback, key)

    def test_sidecar_gets_identity_from_the_downward_api_and_every_env_the_config_names(self):
        sidecar = container(self.spec, "sallyport")
        env = {e["name"]: e for e in sidecar.get("env", [])}
        self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name")
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        missing = env_refs(self.config, set()) - set(env)
        self.assertEqual(missing, set(), "config.json names env vars the sidecar does not get")
        secrets = {s["metadata"]["name"]: s for s in by_kind(self.objects, "Secret")}
        for e in env.values():
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                self.assertIn(ref["name"], secrets)
                self.assertIn(ref["key"], secrets[ref["name"]].get("stringData", {}))

    def test_sidecar_mounts_its_config_and_state_where_config_json_expects(self):
        sidecar = container(self.spec, "sallyport")
        args = sidecar["args"]
        config_path = args[args.index("--config") + 1]
        mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
        volumes = {v["name"]: v for v in self.spec["volumes"]}
        config_mount = mounts[os.path.dirname(config_path)]
        self.assertTrue(config_mount.get("readOnly"))
        cm_name = volumes[config_mount["name"]]["configMap"]["name"]
        self.assertEqual(cm_name, self.cm["metadata"]["name"])
        self.assertIn(os.path.basename(config_path), self.cm["data"])
        policy_file = self.config["policy"]["file"]
        self.assertEqual(os.path.dirname(policy_file), os.path.dirname(config_path))
        self.assertIn(os.path.basename(policy_file), self.cm["data"])
        state = mounts[self.config["state_dir"]]
        self.assertIn("emptyDir", volumes[state["name"]])
        self.assertFalse(state.get("readOnly", False))
        for c in self.spec["containers"] + self.spec["initContainers"]:
            for m in c.get("volumeMounts", []):
                self.assertIn(m["name"], volumes, f"{c['name']} mounts an undefined volume")
        admin_port = int(self.config["listeners"]["admin"].rsplit(":", 1)[1])
        ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
        self.assertEqual(ports["admin"], admin_port)
        self.assertEqual(sidecar["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(sidecar["livenessProbe"]["httpGet"]["path"], "/healthz")

    def test_init_container_attaches_the_guard_for_the_pods_uids(self):
        init = container(self.spec, "sallyport-bpf-attach", init=True)
        script = " ".join(init.get("command", []) + init.get("args", []))
        self.assertRegex(script, r"sallyport bpf attach\b")
        words = script.replace("\\\n", " ").split()
        def value(flag):
            self.assertIn(flag, words, f"bpf attach without {flag}")
            return words[words.index(flag) + 1]
        self.assertEqual(int(value("--agent-uid")), container(self.spec, "agent")["securityContext"]["runAsUser"])
        self.assertEqual(int(value("--router-uid")), container(self.spec, "sallyport")["securityContext"]["runAsUser"])
        self.assertEqual(value("--mode"), "enforce")
        self.assertTrue(value("--cgroup"))
        self.assertEqual(int(value("--admin-port")), int(self.config["listeners"]["admin"].rsplit(":", 1)[1]))
        # Every option the manifest passes exists in the bpf CLI.
        with open(os.path.join(shiplib.ROOT, "bpf", "cli.cpp")) as f:
            cli = f.read()
        for flag in set(re.findall(r"(--[a-z][a-z-]+)", script[script.index("bpf attach"):])):
            self.assertIn(f'"{flag}"', cli, f"bpf attach has no option {flag}")
        mounts = {m["mountPath"] for m in init["volumeMounts"]}
        self.assertIn("/sys/fs/bpf", mounts)
        self.assertTrue(any("cgroup" in m for m in mounts))
        host_volumes = {v["name"]: v["hostPath"]["path"] for v in self.spec["volumes"] if "hostPath" in v}
        self.assertEqual(set(host_volumes.values()), {"/sys/fs/bpf", "/sys/fs/cgroup"})
        for c in self.spec["containers"]:
            for m in c.get("volumeMounts", []):
                self.assertNotIn(m["name"], host_volumes, f"{c['name']} mounts a host path")
        self.assertEqual(self.config["kernel_guard"]["agent_uids"], [AGENT_UID])
        self.assertEqual(self.config["kernel_guard"]["router_uids"], [ROUTER_UID])

    def test_init_script_finds_the_pod_cgroup_for_both_cgroup_drivers(self):
        init = container(self.spec, "sallyport-bpf-attach", init=True)
        self.assertEqual(init["command"], ["/bin/bash", "-ec"])
        script = init["args"][0]
        pod_uid = "0f3c2a4e-1b2c-4d5e-8f90-123456789abc"
        layouts = {
            "systemd": f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_uid.replace('-', '_')}.slice",
            "cgroupfs": f"kubepods/besteffort/pod{pod_uid}",
        }
        for driver, pod_dir in layouts.items():
            with tempfile.TemporaryDirectory() as root:
                os.makedirs(os.path.join(root, pod_dir, "some-container-id"))
                os.makedirs(os.path.join(root, "kubepods.slice", "kubepods-podffffffff_0000.slice"), exist_ok=True)
                test_script = script.replace("/host/sys/fs/cgroup", root).replace(
                    "exec /usr/local/bin/sallyport", "echo sallyport")
                env = {"PATH": "/usr/bin:/bin", "POD_UID": pod_uid, "POD_NAME": "agent-7d9f", "POD_NAMESPACE": "agents"}
                r = subprocess.run(["/bin/bash", "-ec", test_script], env=env, capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, f"{driver}: {r.stderr}")
                words = r.stdout.split()
                self.assertEqual(words[words.index("--cgroup") + 1], os.path.join(root, pod_dir), driver)
                name = words[words.index("--name") + 1]
                self.assertEqual(name, f"pod-{pod_uid}")
                self.assertRegex(name, r"^[A-Za-z0-9._-]{1,64}$", "bpf/guard_loader.cpp rejects this guard name")
                # A pod whose cgroup is not there fails loudly instead of attaching elsewhere.
                env["POD_UID"] = "11111111-2222-3333-4444-555555555555"
                r = subprocess.run(["/bin/bash", "-ec", test_script], env=env, capture_output=True, text=True, timeout=30)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("no cgroup found", r.stderr)

    def test_secret_holds_placeholders_only(self):
        secrets = by_kind(self.objects, "Secret")
        self.assertEqual(len(secrets), 1)
        values = dict(secrets[0].get("stringData", {}))
        self.assertNotIn("data", secrets[0], "use stringData placeholders, not encoded values")
        self.assertEqual(set(values), {"openai-api-key", "anthropic-api-key", "admin-token"})
        for key, value in values.items():
            self.assertEqual(value, "REPLACE_ME", key)
        text = ""
        for dirpath, _, files in os.walk(shiplib.K8S):
            for name in files:
                with open(os.path.join(dirpath, name)) as f:
                    text += f.read()
        self.assertIsNone(re.search(r"sk-[A-Za-z0-9]{16,}|sk-ant-[A-Za-z0-9-]{16,}|AKIA[0-9A-Z]{16}", text))

    def test_network_policies_deny_by_default_and_open_only_dns_and_web(self):
        pod_labels = by_kind(self.objects, "Deployment")[0]["spec"]["template"]["metadata"]["labels"]
        policies = [p for p in by_kind(self.objects, "NetworkPolicy")
                    if all(pod_labels.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())]
        self.assertGreaterEqual(len(policies), 3, "NetworkPolicies do not select the agent pod")
        deny = [p for p in policies if "Egress" in p["spec"]["policyTypes"] and p["spec"].get("egress") == []]
        self.assertTrue(deny, "no default-deny egress policy for the agent pod")
        for p in policies:
            for rule in p["spec"].get("egress", []):
                ports = {(x.get("protocol", "TCP"), x["port"]) for x in rule.get("ports", [])}
                self.assertTrue(ports, f"{p['metadata']['name']}: egress rule open on every port")
                self.assertTrue(ports <= {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 80)}, ports)
                for peer in rule.get("to", []):
                    block = peer.get("ipBlock")
                    if block and ipaddress.ip_network(block["cidr"]).prefixlen == 0:
                        excepted = [ipaddress.ip_network(c) for c in block.get("except", [])]
                        metadata = ipaddress.ip_address("169.254.169.254" if block["cidr"] == "0.0.0.0/0" else "fd00:ec2::254")
                        self.assertTrue(any(metadata in net for net in excepted),
                                        f"{p['metadata']['name']}: {block['cidr']} includes cloud metadata")
                if any(port == 53 for _, port in ports):
                    self.assertTrue(all("ipBlock" not in peer for peer in rule.get("to", [])),
                                    "DNS must go to the cluster resolver only")

    def test_component_injects_into_any_labelled_workload(self):
        tmp = tempfile.mkdtemp(prefix="sallyport-kustomize-")
        try:
            self.write_fixture(tmp)
            objects = k8s_render.render(tmp)
            injected = {o["kind"]: o for o in objects}
            for kind in ("StatefulSet", "Job"):
                spec = injected[kind]["spec"]["template"]["spec"]
                names = [c["name"] for c in spec["containers"]]
                self.assertEqual(sorted(names), ["sallyport", "worker"], kind)
                # The guard is attached before any of the workload's own init code runs.
                self.assertEqual([c["name"] for c in spec["initContainers"]], ["sallyport-bpf-attach", "setup"]
                                 if kind == "Job" else ["sallyport-bpf-attach"])
            untouched = [o for o in objects if o["metadata"]["name"] == "not-an-agent"][0]
            self.assertNotIn("initContainers", untouched["spec"]["template"]["spec"])
        finally:
            shutil.rmtree(tmp)

    @staticmethod
    def write_fixture(tmp):
        def workload(kind, api, name, inject, init=None):
            spec = {"containers": [{"name": "worker", "image": "example/worker:1"}]}
            if init:
                spec["initContainers"] = [{"name": init, "image": "example/setup:1"}]
            labels = {"sallyport.dev/inject": "enabled"} if inject else {}
            return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "labels": labels},
                    "spec": {"template": {"spec": spec}}}
        docs = [workload("StatefulSet", "apps/v1", "db-agent", True),
                workload("Job", "batch/v1", "batch-agent", True, init="setup"),
                workload("Deployment", "apps/v1", "not-an-agent", False)]
        with open(os.path.join(tmp, "workloads.yaml"), "w") as f:
            yaml.safe_dump_all(docs, f)
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "resources": ["workloads.yaml"],
                            "components": [os.path.relpath(os.path.join(shiplib.K8S, "sidecar-component"), tmp)]}, f)


class EmbeddedConfig(unittest.TestCase):
    def setUp(self):
        self.cm = config_json(rendered())
        self.config_text = self.cm["data"]["config.json"]
        self.config = json.loads(self.config_text)
        self.policy = json.loads(self.cm["data"]["policy.json"])
        with open(os.path.join(shiplib.ROOT, "config", "schema.json")) as f:
            self.schema = json.load(f)

    def schema_errors(self, instance):
        import jsonschema
        validator = jsonschema.Draft202012Validator(self.schema)
        return ["/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(instance)]

    def test_config_json_is_valid_against_config_schema(self):
        self.assertEqual(self.schema_errors(self.config), [])

    def test_schema_check_rejects_a_broken_config(self):
        broken = copy.deepcopy(self.config)
        broken["egress"]["bare_ip"] = "allow"
        broken["listners"] = {}
        errors = self.schema_errors(broken)
        self.assertEqual(len(errors), 2, errors)

    @unittest.skipUnless(shiplib.sallyport_bin(), "SALLYPORT_BIN not set")
    def test_sallyport_check_config_accepts_it_and_rejects_a_broken_copy(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "config.json")
            with open(path, "w") as f:
                f.write(self.config_text)
            r = shiplib.run([shiplib.sallyport_bin(), "check-config", path])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            broken = copy.deepcopy(self.config)
            broken["providers"][0]["api_key"] = "sk-inline-secret"
            with open(path, "w") as f:
                json.dump(broken, f)
            r = shiplib.run([shiplib.sallyport_bin(), "check-config", path])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("/providers/0/api_key", r.stdout)

    def test_policy_json_follows_the_tool_policy_format(self):
        p = self.policy
        self.assertEqual(set(p), {"version", "default", "rules"})
        self.assertEqual(p["version"], 1)
        self.assertIn(p["default"], ("allow", "deny"))
        names = set()
        for i, rule in enumerate(p["rules"]):
            where = f"/rules/{i}"
            self.assertTrue(set(rule) <= {"name", "tool", "args", "action", "min_trust"}, where)
            self.assertTrue(rule.get("name") and rule["name"] not in names, f"{where}: name missing or repeated")
            names.add(rule["name"])
            self.assertIn(rule["action"], ("allow", "deny", "require_approval", "log"), where)
            self.assertIsInstance(rule["tool"], str, where)
            if rule["tool"].startswith("re:"):
                re.compile(rule["tool"][3:])
            if "args" in rule:
                re.compile(rule["args"])
            if "min_trust" in rule:
                self.assertTrue(0 <= rule["min_trust"] <= 1000, where)
        # The dangerous tools are denied before anything allows them (first match wins).
        order = [r["name"] for r in p["rules"]]
        self.assertLess(order.index("no-shell"), order.index("read-only-fs"))
        self.assertLess(order.index("no-metadata-in-args"), min(order.index(n) for n in order if n != "no-metadata-in-args"))

    @unittest.skipUnless(shiplib.sallyport_bin(), "SALLYPORT_BIN not set")
    def test_sallyport_policy_check_accepts_it_when_available(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "policy.json")
            with open(path, "w") as f:
                json.dump(self.policy, f)
            r = shiplib.run([shiplib.sallyport_bin(), "policy", "check", path])
            if r.returncode == 2 and "not available" in r.stderr:
                self.skipTest("`sallyport policy check` is not in this build yet")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class KubernetesSchemas(unittest.TestCase):
    CHECKER = os.path.join(shiplib.HERE, "k8s_schema_check.mjs")

    def check(self, objects):
        if not shutil.which("node"):
            self.skipTest("node is not installed")
        r = subprocess.run(["node", self.CHECKER], input=json.dumps(objects), capture_output=True,
                           text=True, timeout=120)
        if r.returncode == 3:
            self.skipTest("kubernetes-models not installed: run `npm ci` in tests/ship (scripts/test does)")
        return r

    def test_rendered_objects_pass_the_kubernetes_openapi_schemas(self):
        r = self.check(rendered())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertGreaterEqual(len(r.stdout.splitlines()), 5)

    def test_schema_check_rejects_a_wrong_type(self):
        objects = rendered()
        deployment = by_kind(objects, "Deployment")[0]
        container(deployment["spec"]["template"]["spec"], "agent")["securityContext"]["runAsUser"] = "1000"
        r = self.check(objects)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("runAsUser must be integer", r.stdout)


@unittest.skipUnless(shutil.which("kubectl"), "kubectl is not installed (optional cross-check)")
class KubectlKustomize(unittest.TestCase):
    def kustomize(self, directory):
        r = shiplib.run(["kubectl", "kustomize", directory], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [d for d in yaml.safe_load_all(r.stdout) if d]

    def test_kubectl_renders_the_same_pod(self):
        objects = self.kustomize(shiplib.K8S)
        ours = rendered()
        strip = lambda o: (o["kind"], re.sub(r"-[a-z0-9]{10}$", "", o["metadata"]["name"]))  # noqa: E731
        self.assertEqual(sorted(map(strip, objects)), sorted(map(strip, ours)))
        spec = pod_spec(objects)
        self.assertEqual(pod_problems(spec), [])
        ours_spec = pod_spec(ours)
        for key in ("containers", "initContainers", "volumes"):
            self.assertEqual(sorted(c["name"] for c in spec[key]), sorted(c["name"] for c in ours_spec[key]), key)
        self.assertEqual(container(spec, "agent"), container(ours_spec, "agent"))
        self.assertEqual(container(spec, "sallyport")["securityContext"], container(ours_spec, "sallyport")["securityContext"])
        self.assertEqual(container(spec, "sallyport-bpf-attach", init=True)["args"],
                         container(ours_spec, "sallyport-bpf-attach", init=True)["args"])
        cm_volume = [v for v in spec["volumes"] if "configMap" in v][0]
        cm_names = [c["metadata"]["name"] for c in by_kind(objects, "ConfigMap")]
        self.assertIn(cm_volume["configMap"]["name"], cm_names, "ConfigMap hash suffix not propagated")

    def test_kubectl_applies_the_component_to_other_workloads(self):
        tmp = tempfile.mkdtemp(prefix="sallyport-kustomize-")
        try:
            Manifests.write_fixture(tmp)
            objects = {o["metadata"]["name"]: o for o in self.kustomize(tmp)}
            for name in ("db-agent", "batch-agent"):
                spec = objects[name]["spec"]["template"]["spec"]
                self.assertEqual(sorted(c["name"] for c in spec["containers"]), ["sallyport", "worker"], name)
                self.assertEqual(spec["initContainers"][0]["name"], "sallyport-bpf-attach", name)
            self.assertEqual([c["name"] for c in objects["batch-agent"]["spec"]["template"]["spec"]["initContainers"]],
                             ["sallyport-bpf-attach", "setup"])
            self.assertNotIn("initContainers", objects["not-an-agent"]["spec"]["template"]["spec"])
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main(verbosity=2)
