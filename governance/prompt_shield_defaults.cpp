// The default prompt-shield pattern set, compiled into the binary so the embedded default
// config works without files. MUST stay identical to config/shields/default.txt (checked by
// governance/test/shield_test.cpp); edit both together.
#include "governance/prompt_shield.hpp"

namespace sallyport::governance {

namespace {

constexpr std::string_view kDefaultShieldPatterns = R"SHIELD(# sallyport default prompt-shield patterns (jailbreak / prompt injection).
# RE2 syntax, matched case-insensitively and unanchored against the text of user and tool
# messages. Format: `id: pattern` (one per line); '#' starts a comment line.
# Ids are stable: they appear in decisions, audit records and metrics. Keep this file identical
# to governance/prompt_shield_defaults.cpp (a unit test compares them).
# Each pattern should need two or more signals (verb + target) so ordinary prompts do not fire;
# add a benign counter-example to governance/test/shield_test.cpp with every new pattern.

# --- instruction override ---
ignore-previous: \b(ignore|disregard|forget|skip|override|bypass)\s+((all|any|the|your|of|my|these)\s+)*(previous|prior|above|earlier|preceding|foregoing|initial|original|system)\s+(instructions?|prompts?|rules|directives|guidelines|messages|context|commands)\b
ignore-everything-above: \b(ignore|disregard|forget)\s+(everything|all|anything)\s+(above|before\s+this|you\s+(were|have\s+been)\s+told)\b
new-instructions: \b(your\s+)?new\s+(instructions|rules|directives|system\s+prompt)\s+(are|is)\s*:
override-system-prompt: \b(override|overwrite|replace|update)\s+(the\s+|your\s+)?system\s+(prompt|message|instructions)\b
do-not-follow: \bdo\s+not\s+follow\s+(your|the|any)\s+(previous|prior|original|system|initial)\s+(instructions|rules|guidelines|prompt)\b
instead-ignore: \binstead\s*,?\s+(you\s+(must|should|will)\s+)?(ignore|disregard)\s+(the|your|all|any)\b
end-of-prompt: \bend\s+of\s+(the\s+)?(system\s+prompt|instructions|prompt)\b[^\n]{0,40}\b(new|begin|start|now)\b

# --- persona jailbreaks ---
you-are-dan: \byou\s+are\s+(now\s+)?(going\s+to\s+(act|pretend)\s+(as|to\s+be)\s+)?(DAN|STAN|DUDE|AIM|an?\s+unfiltered|an?\s+uncensored|jailbroken|free\s+from\s+(all\s+)?restrictions)\b
do-anything-now: \bdo\s+anything\s+now\b
developer-mode: \b(with\s+developer\s+mode\s+enabled|developer\s+mode\s+output|(enable|activate|enter|switch\s+to)\s+(god|jailbreak|unrestricted|unfiltered|evil)\s+mode)\b
named-jailbreaks: \b(evil\s+confidant|anti-?gpt|better\s?dan|maximum\s+mode|opposite\s+mode|mongo\s+tom|unfiltered\s+mode)\b
no-longer-bound: \b(no\s+longer|not)\s+(bound|restricted|limited|constrained)\s+by\s+((any|your|the|openai'?s|anthropic'?s)\s+)*(rules|guidelines|restrictions|policies|content\s+polic(y|ies)|ethics|openai|anthropic)\b
freed-from-rules: \byou\s+(are|have\s+been)\s+(now\s+)?(freed|free|liberated|released|unshackled)\s+from\s+((all|any|your|the)\s+)*(restrictions|rules|guidelines|limitations|filters|constraints|policies)\b
pretend-no-rules: \b(pretend|imagine|act\s+as\s+if|behave\s+as\s+if)\s+(that\s+)?you\s+(have|had|are\s+under)\s+no\s+(rules|restrictions|guidelines|filters|limitations|content\s+policy|ethical\s+guidelines)\b
roleplay-unfiltered: \b(act|behave|respond|roleplay|role-play|answer)\s+as\s+(an?\s+)?(unfiltered|uncensored|unrestricted|amoral|unethical|evil)\s+(ai|assistant|model|chatbot|version|language\s+model)\b
token-threat: \byou\s+(have|will\s+lose|lose)\s+\d+\s+tokens\b
never-refuse: \b(you\s+(can|must|will|shall)\s*(not|never)\s+refuse|never\s+refuse\s+(a|any)\s+(request|question|order))\b
no-moral-limits: \bwithout\s+(any\s+)?(moral|ethical)\s+(constraints|considerations|restrictions|limits|guidelines|boundaries)\b
two-personas: \b(two|2)\s+(different\s+)?(responses|answers|paragraphs)\b[^\n]{0,80}\b(jailbreak|unfiltered|DAN|developer\s+mode)\b

# --- system prompt exfiltration ---
reveal-system-prompt: \b(reveal|show|print|display|output|repeat|leak|dump|expose|tell\s+me|give\s+me|share)\s+((me|us)\s+)?(your|the)\s+((full|entire|complete|exact|original|initial|hidden|secret|real)\s+)*(system\s+(prompt|message|instructions)|initial\s+instructions|hidden\s+instructions|pre-?prompt|developer\s+message)\b
what-is-your-prompt: \bwhat\s+(is|are|was|were)\s+your\s+((full|exact|original|initial|hidden|secret)\s+)*(system\s+prompt|instructions|initial\s+prompt|rules)\b
repeat-above: \brepeat\s+(back\s+)?((the|all|every)\s+)?(words|text|everything|lines)\s+(above|before|prior)\b
verbatim-instructions: \b(output|print|copy|write|recite)\s+(your|the)\s+(instructions|prompt|rules|system\s+prompt)\s+(verbatim|word\s+for\s+word)\b
starting-with-you-are: \bstarting\s+with\s+["'`]?you\s+are\b
instructions-in-codeblock: \b(put|format|write|place)\s+((your|all|the)\s+)+(previous\s+|above\s+|initial\s+)?(instructions|prompt)\s+in\s+(a\s+)?(code\s*block|markdown)\b

# --- covert action / exfiltration requested of an agent ---
exfiltrate-secrets: \b(send|post|upload|exfiltrate|forward|transmit|leak|email|paste)\s+((all|the|your|any|its|these)\s+)*(api[\s_-]?keys?|secrets?|credentials|passwords?|access\s+tokens?|env(ironment)?\s+variables|\.env\s+files?|ssh\s+keys?|private\s+keys?)\s+(to|via|into|at)\b
read-credential-files: \b(cat|print|read|dump|exfiltrate|upload)\s+[^\n]{0,20}(~/\.ssh/|/etc/shadow|\.aws/credentials|\.netrc|\.docker/config\.json|/var/run/secrets/kubernetes\.io)
hide-from-user: \b(do\s+not|don'?t|never)\s+(tell|inform|alert|notify|mention\s+(this|it)\s+to|reveal\s+(this|it)\s+to|show\s+(this|it)\s+to)\s+(the\s+)?(user|human|operator|developer)\b
without-telling-user: \bwithout\s+(telling|informing|notifying|asking|alerting)\s+(the\s+)?(user|human|operator)\b
silently-execute: \b(silently|secretly|quietly|covertly)\s+(run|execute|call|invoke|send|download|install)\b

# --- encoded payloads ---
decode-and-execute: \b(decode|deobfuscate|decrypt|unescape|reverse)\b[^\n]{0,60}\b(and|then)\s+(execute|run|follow|obey|eval(uate)?|perform|carry\s+out)\b
encoded-instructions: \b(base64|rot13|rot-13|hex|binary)[\s-]*(encoded|encrypted)?\s+(instructions|prompt|command|payload|message)\b[^\n]{0,60}\b(follow|execute|run|obey)\b
follow-hidden: \b(follow|execute|obey)\s+(the\s+)?(instructions|commands)\s+(encoded|hidden|embedded)\s+(in|within|below|above)\b

# --- injection markers (typical in tool output and fetched pages) ---
chat-template-tokens: (<\|\s*(im_start|im_end|system|endoftext|start_header_id)\s*\|>|\[/?INST\]|<</?SYS>>)
fake-role-header: (^|\n)\s*(#{1,3}\s*)?(system|assistant)\s*(message|prompt)?\s*:\s*(you\s+(are|must|will)|ignore|new\s+instructions)
note-to-ai: \b(important|urgent|attention|note)\s*[:!]+\s*(new\s+)?(instructions?|message|note)\s+(for|to)\s+(the\s+)?(ai|assistant|agent|model|llm|chatbot)\b
ai-reading-this: \b(ai|assistant|agent|llm|language\s+model|chatbot)s?\s+(reading|processing|summari[sz]ing|parsing)\s+this\b

# --- safety bypass ---
disable-your-safety: \b(disable|turn\s+off|deactivate|bypass|ignore|circumvent|remove)\s+((all|of)\s+)*your\s+(safety|content|ethical|moral)\s+(filters?|guidelines|guardrails|protocols|restrictions|features|polic(y|ies)|settings|training)\b
claimed-authority: \bi\s+am\s+(your|an?|the)\s+(developer|creator|admin(istrator)?|owner|openai\s+employee|anthropic\s+employee)\b[^\n]{0,80}\b(ignore|bypass|override|disable|unlock)\b
admin-override: \b(admin|sudo|root|developer|system)\s+override\b
)SHIELD";

}  // namespace

std::string_view default_shield_patterns_text() { return kDefaultShieldPatterns; }

}  // namespace sallyport::governance
