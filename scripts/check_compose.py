#!/usr/bin/env python3
"""Checks docker-compose.yml as far as a machine without a Docker engine can.

    scripts/check_compose.py --bin-dir .build/debug [--compose docker-compose.yml] [--root .]

For the default profile set and for each env file under deploy/*.env (e.g. ha.env), with the
variables interpolated the way Compose does (${VAR:-default}):

- the file parses (PyYAML, anchors and `<<` merges resolved); only known top-level keys;
- depends_on, named volumes and bind-mounted files exist; no always-on service depends on a
  service of a profile that is off;
- every service built from this repo runs an executable the package builds (Package.swift's
  `.executable(name:)`) and the Dockerfile copies into the image; its flags appear in the
  executable's (sub)command `--help`, and every CARD_* variable it is given (compose environment,
  Dockerfile ENV) is one that `--help` documents ("Env: CARD_…");
- workers: restart policy, an anonymous volume (one per instance) at CARD_STATE_DIR, a health check on /healthz of
  CARD_OPS_PORT, CARD_OPS_HOST 0.0.0.0 (the default is loopback), and Prometheus scrapes them on that port;
- a published `fleet ops` page listens on 0.0.0.0 (its default is loopback);
- Prometheus alert rules (the mounted alerts.yml): each named, with expr, severity and summary, and
  every card_* metric an expression uses created by some source (swift-metrics `label: "card_..."`);
- the gateway: listens on 0.0.0.0 when its port is published (its default is loopback), publishes the port it
  listens on, a health check probes /healthz on CARD_GATEWAY_PORT, it has API keys (CARD_GATEWAY_KEYS, or
  CARD_GATEWAY_KEYS_FILE from a declared secret whose file exists), keeps its uploads folder
  (CARD_GATEWAY_UPLOADS_DIR) on a volume, waits for the topics, restarts;
- Kafka (KRaft): unique node ids, a controller quorum that names real controller services,
  listeners consistent with the advertised ones and the protocol map, one valid CLUSTER_ID;
  CARD_BROKERS only names broker services' internal listeners;
- topics: the provisioning service runs `fleet topics apply` on the folder the Dockerfile copies
  Topics/ to; every topic the workers use is in Topics/; registry.persons and bank.branches are
  compacted; the replication factor fits the brokers of the profile set (min.insync.replicas too);
- `docker compose config -q` (or docker-compose v1) validates the schema when one is installed.

Prints one line per failed check and a closing "N passed, M failed" line; exits 1 on failure.
"""
import argparse
import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:  # PyYAML ships with the machine's Python; say what is missing instead of a traceback
    print("check_compose.py needs PyYAML: python3 -m pip install pyyaml")
    print("compose: 0 passed, 1 failed")
    sys.exit(1)

PROFILES = {"ha", "monitoring"}
TOP_LEVEL = {"services", "volumes", "networks", "configs", "secrets", "name"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class Checker:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, condition, message):
        if condition:
            self.passed += 1
        else:
            self.failures.append(message)
        return condition


def interpolate(node, env):
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR-default} over every string of the tree."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, str):
        def sub(m):
            name, op, default = m.group(1), m.group(2), m.group(3)
            value = env.get(name)
            if op == ":-":
                return value if value else default
            if op == "-":
                return value if value is not None else default
            return value or ""
        return INTERPOLATION.sub(sub, node).replace("$$", "$")
    return node


def read_env_file(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key.strip()] = value.strip()
    return env


def as_list(command):
    if command is None:
        return []
    return command.split() if isinstance(command, str) else [str(c) for c in command]


def environment_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def package_executables(root):
    text = open(os.path.join(root, "Package.swift"), encoding="utf-8").read()
    return set(re.findall(r'\.executable\(\s*name:\s*"([^"]+)"', text))


def dockerfile_facts(root):
    text = open(os.path.join(root, "Dockerfile"), encoding="utf-8").read()
    joined = re.sub(r"\\\n", " ", text)
    copied = set()
    for m in re.finditer(r"for exe in ([^;]+);", joined):
        copied.update(m.group(1).split())
    topics_dest = None
    m = re.search(r"^COPY\s+(?:--\S+\s+)*Topics/?\s+(\S+)", text, re.M)
    if m:
        topics_dest = m.group(1).rstrip("/")
    workdir = None
    for m in re.finditer(r"^WORKDIR\s+(\S+)", text, re.M):
        workdir = m.group(1)
    env_names = set(re.findall(r"\b(CARD_[A-Z0-9_]+)=", joined))
    return copied, topics_dest, workdir, env_names


class HelpCache:
    """`--help` texts of the built executables, per (executable, subcommand path)."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.cache = {}

    def get(self, executable, subcommands=()):
        key = (executable, tuple(subcommands))
        if key not in self.cache:
            path = os.path.join(self.bin_dir, executable)
            if not os.access(path, os.X_OK):
                self.cache[key] = None
            else:
                result = subprocess.run([path, *subcommands, "--help"], capture_output=True, text=True, timeout=60)
                self.cache[key] = result.stdout + result.stderr if result.returncode == 0 else None
        return self.cache[key]


def documented_env(help_text):
    names = set(re.findall(r"\bCARD_[A-Z0-9_]+", help_text))
    # "CARD_KAFKA_<KEY with dots as _>" documents a family of names.
    families = {n for n in names if n.endswith("_") or n == "CARD_KAFKA"}
    if "CARD_KAFKA_<" in help_text:
        families.add("CARD_KAFKA_")
    return names, families


def env_is_documented(name, help_text):
    names, families = documented_env(help_text)
    return name in names or any(name.startswith(f if f.endswith("_") else f + "_") for f in families)


def flags_of(args):
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def worker_topics(root):
    """Topic names the worker handlers name in Sources/CardWorkers (string literals like "card.x")."""
    topics = set()
    for path in glob.glob(os.path.join(root, "Sources/CardWorkers/*.swift")):
        text = open(path, encoding="utf-8").read()
        topics.update(re.findall(r'"((?:card|registry|bank)\.[a-z][a-z.-]*)"', text))
    return topics


def check_kafka(c, services, label):
    kafka = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka")}
    c.check(kafka, f"[{label}] no apache/kafka service")
    node_ids, cluster_ids, controllers, brokers = {}, set(), {}, {}
    for name, s in kafka.items():
        env = environment_of(s)
        for key in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS",
                    "KAFKA_CONTROLLER_LISTENER_NAMES", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CLUSTER_ID"):
            c.check(env.get(key), f"[{label}] {name}: {key} is not set")
        node = env.get("KAFKA_NODE_ID")
        c.check(node not in node_ids, f"[{label}] {name}: node id {node} also used by {node_ids.get(node)}")
        node_ids[node] = name
        cluster_ids.add(env.get("CLUSTER_ID"))
        roles = set((env.get("KAFKA_PROCESS_ROLES") or "").replace(" ", "").split(","))
        c.check(roles and roles <= {"broker", "controller"}, f"[{label}] {name}: bad KAFKA_PROCESS_ROLES {roles}")
        listeners = {}
        for item in (env.get("KAFKA_LISTENERS") or "").split(","):
            m = re.match(r"([A-Z_]+)://([^:]*):(\d+)$", item.strip())
            if c.check(m, f"[{label}] {name}: listener {item!r} is not NAME://host:port"):
                listeners[m.group(1)] = int(m.group(3))
        protocol_map = dict(p.split(":", 1) for p in (env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "").split(",") if ":" in p)
        for listener in listeners:
            c.check(listener in protocol_map, f"[{label}] {name}: listener {listener} missing from the protocol map")
        controller_names = set((env.get("KAFKA_CONTROLLER_LISTENER_NAMES") or "").split(","))
        if "controller" in roles:
            c.check(controller_names & set(listeners), f"[{label}] {name}: a controller without a controller listener")
            controllers[name] = (node, listeners.get(next(iter(controller_names), ""), None))
        if "broker" in roles:
            inter = env.get("KAFKA_INTER_BROKER_LISTENER_NAME")
            c.check(inter in listeners, f"[{label}] {name}: inter-broker listener {inter} is not among its listeners")
            advertised = {}
            for item in (env.get("KAFKA_ADVERTISED_LISTENERS") or "").split(","):
                m = re.match(r"([A-Z_]+)://([^:]+):(\d+)$", item.strip())
                if c.check(m, f"[{label}] {name}: advertised listener {item!r} is not NAME://host:port"):
                    advertised[m.group(1)] = (m.group(2), int(m.group(3)))
            for listener in advertised:
                c.check(listener in listeners, f"[{label}] {name}: advertises {listener}, which it does not listen on")
                c.check(listener not in controller_names, f"[{label}] {name}: advertises the controller listener")
            if inter in advertised:
                host, port = advertised[inter]
                c.check(host == name or host == s.get("hostname"),
                        f"[{label}] {name}: advertises {inter} as {host}, not its own service name")
                brokers[name] = port
    c.check(len(cluster_ids) == 1, f"[{label}] kafka services disagree on CLUSTER_ID: {cluster_ids}")
    for cid in cluster_ids:
        try:
            ok = len(base64.urlsafe_b64decode(cid + "==")) == 16 and len(cid) == 22
        except Exception:
            ok = False
        c.check(ok, f"[{label}] CLUSTER_ID {cid!r} is not a base64url UUID (22 characters)")
    for name, s in kafka.items():
        voters = environment_of(s).get("KAFKA_CONTROLLER_QUORUM_VOTERS") or ""
        for voter in voters.split(","):
            m = re.match(r"(\d+)@([^:]+):(\d+)$", voter.strip())
            if not c.check(m, f"[{label}] {name}: quorum voter {voter!r} is not id@host:port"):
                continue
            target = controllers.get(m.group(2))
            c.check(target is not None, f"[{label}] {name}: quorum voter {voter} is not a controller service")
            if target:
                c.check(target == (m.group(1), int(m.group(3))),
                        f"[{label}] {name}: quorum voter {voter} does not match {m.group(2)}'s node id/controller port {target}")
    return brokers


def check_config(c, root, compose_path, env, label, helps, executables):
    with open(compose_path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    c.check(isinstance(raw, dict) and "services" in raw, f"[{label}] no services")
    unknown = {k for k in raw if not k.startswith("x-")} - TOP_LEVEL
    c.check(not unknown, f"[{label}] unknown top-level keys {sorted(unknown)} (and `version` is obsolete)")
    doc = interpolate(raw, env)
    leftovers = re.findall(r"\$\{[^}]*\}", json.dumps(doc))
    c.check(not leftovers, f"[{label}] uninterpolated variables left: {leftovers}")
    active_profiles = set(p for p in (env.get("COMPOSE_PROFILES") or "").split(",") if p)
    all_services = doc["services"]
    services = {n: s for n, s in all_services.items() if not s.get("profiles") or set(s["profiles"]) & active_profiles}
    volumes = set((doc.get("volumes") or {}).keys())

    for name, s in all_services.items():
        for p in s.get("profiles") or []:
            c.check(p in PROFILES, f"{name}: unexpected profile {p}")
    for name, s in services.items():
        c.check("image" in s or "build" in s, f"[{label}] {name}: neither image nor build")
        deps = s.get("depends_on") or {}
        for dep in (deps if isinstance(deps, (list, dict)) else []):
            c.check(dep in all_services, f"[{label}] {name}: depends on unknown service {dep}")
            c.check(dep in services, f"[{label}] {name}: depends on {dep}, whose profile is off")
        for mount in s.get("volumes") or []:
            if isinstance(mount, dict) and mount.get("type") == "volume" and not mount.get("source"):
                continue  # anonymous: one per container
            source = (mount.split(":")[0] if isinstance(mount, str) else mount.get("source", ""))
            if source.startswith(".") or source.startswith("/"):
                c.check(os.path.exists(os.path.join(root, source)), f"[{label}] {name}: bind mount {source} does not exist")
            else:
                c.check(source in volumes, f"[{label}] {name}: volume {source} is not declared under volumes:")

    brokers = check_kafka(c, services, label)

    copied, topics_dest, workdir, dockerfile_env = dockerfile_facts(root)
    ours = {n: s for n, s in services.items() if s.get("build")}
    c.check(ours, f"[{label}] no service is built from this repository")
    worker_help_union = ""
    ops_ports = {}
    for name, s in ours.items():
        args = as_list(s.get("command"))
        if not c.check(args, f"[{label}] {name}: no command"):
            continue
        exe = args[0]
        c.check(exe in executables, f"[{label}] {name}: runs {exe}, which is not an executable product of Package.swift {sorted(executables)}")
        c.check(exe in copied, f"[{label}] {name}: runs {exe}, which the Dockerfile does not copy into the image {sorted(copied)}")
        rest = args[1:]
        subcommands = []
        while rest and not rest[0].startswith("-"):
            subcommands.append(rest.pop(0))
        help_text = helps.get(exe, subcommands)
        where = " ".join([exe, *subcommands])
        if not c.check(help_text is not None, f"[{label}] {name}: `{where} --help` fails: not built, or no such subcommand"):
            continue
        for flag in flags_of(rest):
            c.check(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text),
                    f"[{label}] {name}: flag {flag} is not an option of `{where}`")
        env = environment_of(s)
        for var in env:
            if var.startswith("CARD_"):
                c.check(env_is_documented(var, help_text), f"[{label}] {name}: {var} is not an option of `{where}` (not in its --help)")
        c.check(s.get("restart") in ("always", "unless-stopped", "on-failure", "no"), f"[{label}] {name}: no restart policy")
        if exe.endswith("-worker"):
            worker_help_union += help_text
            c.check(s.get("restart") in ("always", "unless-stopped"), f"[{label}] {name}: a worker should restart (always/unless-stopped)")
            # Each instance has a state volume of its own (issue 13: the state follows its partition
            # through the changelog): an anonymous volume, so every replica of --scale gets one. A
            # named volume would be shared by the replicas, the one-host layout this replaced.
            state_dir = env.get("CARD_STATE_DIR")
            own = [m for m in s.get("volumes") or [] if isinstance(m, dict) and m.get("type") == "volume"
                   and not m.get("source") and m.get("target") == state_dir]
            c.check(state_dir and own,
                    f"[{label}] {name}: no volume of its own at CARD_STATE_DIR ({state_dir}): mount an anonymous volume "
                    f"(type: volume, target: {state_dir}) so each instance of --scale has one")
            port = env.get("CARD_OPS_PORT")
            test = " ".join(as_list((s.get("healthcheck") or {}).get("test")))
            c.check(port and re.search(rf"localhost:{port}/healthz", test),
                    f"[{label}] {name}: health check does not probe /healthz on CARD_OPS_PORT {port}: {test!r}")
            c.check(test.split()[1:2] in (["curl"], ["wget"]) or "curl" in test or "wget" in test,
                    f"[{label}] {name}: health check needs curl or wget")
            c.check(env.get("CARD_OPS_HOST") == "0.0.0.0",
                    f"[{label}] {name}: CARD_OPS_HOST must be 0.0.0.0 in a container (the default, 127.0.0.1, is unreachable for Prometheus)")
            ops_ports[name] = port
            servers = env.get("CARD_BROKERS") or ""
            for server in servers.split(","):
                host, _, port_text = server.partition(":")
                c.check(host in brokers and port_text == str(brokers[host]),
                        f"[{label}] {name}: CARD_BROKERS entry {server} is not a broker service's internal listener {brokers}")
        if exe == "gateway":
            check_gateway(c, root, doc, name, s, env, brokers, label)
        if args[:2] == ["fleet", "ops"] and s.get("ports"):
            opts = dict(zip(args[2::1], args[3::1]))
            c.check(opts.get("--ops-host") == "0.0.0.0",
                    f"[{label}] {name}: publishes the ops page but does not pass --ops-host 0.0.0.0 (the default, 127.0.0.1, is unreachable from outside the container)")
    for var in dockerfile_env:
        c.check(env_is_documented(var, worker_help_union or ""), f"Dockerfile ENV {var} is not a worker option")
    c.check("curl" in open(os.path.join(root, "Dockerfile"), encoding="utf-8").read(), "Dockerfile: runtime image lacks curl for health checks")

    # Topics
    provisioning = [s for s in ours.values() if as_list(s.get("command"))[:3] == ["fleet", "topics", "apply"]]
    if c.check(len(provisioning) == 1, f"[{label}] expected one `fleet topics apply` service, found {len(provisioning)}"):
        args = as_list(provisioning[0].get("command"))
        opts = dict(zip(args[3::1], args[4::1]))
        topics_dir = opts.get("--topics-dir", "Topics")
        in_image = topics_dir if topics_dir.startswith("/") else os.path.join(workdir or "/", topics_dir)
        c.check(topics_dest and os.path.normpath(in_image) == os.path.normpath(topics_dest if topics_dest.startswith("/") else os.path.join(workdir or "/", topics_dest)),
                f"[{label}] topics: --topics-dir {topics_dir} is not where the Dockerfile copies Topics/ ({topics_dest})")
        restart = provisioning[0].get("restart", "no")
        c.check(restart in ("no", "on-failure"), f"[{label}] topics: a one-shot service must not restart always")
        dependents = [n for n, s in services.items() if "topics" in (s.get("depends_on") or {})]
        for n in dependents:
            cond = (services[n]["depends_on"] or {}).get("topics", {})
            c.check(isinstance(cond, dict) and cond.get("condition") == "service_completed_successfully",
                    f"[{label}] {n}: should wait for topics with condition service_completed_successfully")
        for n in ours:
            if as_list(ours[n].get("command"))[0].endswith("-worker"):
                c.check(n in dependents, f"[{label}] {n}: starts without waiting for the topics")
        specs = {}
        for path in glob.glob(os.path.join(root, "Topics", "*.json")):
            spec = json.load(open(path, encoding="utf-8"))
            specs[spec["topic"]] = spec
        c.check(specs, "Topics/ has no specs")
        factor = opts.get("--replication-factor")
        for topic, spec in sorted(specs.items()):
            rf = int(factor) if factor else int(spec.get("replication_factor", 1))
            c.check(rf <= len(brokers), f"[{label}] {topic}: replication factor {rf} needs more than the {len(brokers)} broker(s) of this profile set")
            min_isr = int(spec.get("config", {}).get("min.insync.replicas", 1))
            if not factor:  # with --replication-factor, fleet lowers min.insync.replicas to it
                c.check(min_isr <= rf, f"[{label}] {topic}: min.insync.replicas {min_isr} > replication factor {rf}")
        for topic in sorted(worker_topics(root)):
            c.check(topic in specs, f"the workers use topic {topic}, which Topics/ does not define")
        for topic in ("registry.persons", "bank.branches"):
            policy = specs.get(topic, {}).get("config", {}).get("cleanup.policy")
            c.check(policy == "compact", f"Topics/{topic}.json: cleanup.policy should be compact, is {policy}")

    # Prometheus
    prom = [s for s in services.values() if str(s.get("image", "")).startswith("prom/prometheus")]
    for s in prom:
        mounts = {m.split(":")[1]: m.split(":")[0] for m in s.get("volumes") or [] if isinstance(m, str)}
        config = mounts.get("/etc/prometheus/prometheus.yml")
        if c.check(config, f"[{label}] prometheus: no prometheus.yml mounted"):
            prom_config = yaml.safe_load(open(os.path.join(root, config), encoding="utf-8"))
            targets = {}
            for job in prom_config.get("scrape_configs", []):
                for sd in job.get("dns_sd_configs", []):
                    for n in sd.get("names", []):
                        targets[n] = str(sd.get("port"))
                for sc in job.get("static_configs", []):
                    for t in sc.get("targets", []):
                        host, _, port = t.partition(":")
                        targets[host] = port
            for worker, port in ops_ports.items():
                c.check(targets.get(worker) == port, f"[{label}] prometheus does not scrape {worker} on port {port}")
            for target in targets:
                c.check(target in all_services, f"[{label}] prometheus scrapes {target}, which is no service")
            for rule_file in prom_config.get("rule_files", []):
                host_path = next((h for cpath, h in mounts.items() if cpath == rule_file), None)
                if c.check(host_path, f"[{label}] prometheus rule file {rule_file} is not mounted"):
                    rules = yaml.safe_load(open(os.path.join(root, host_path), encoding="utf-8"))
                    if c.check(rules.get("groups"), f"{host_path}: no rule groups"):
                        check_alert_rules(c, root, host_path, rules)


METRIC_LABEL = re.compile(r'label:\s*"(card_[a-z0-9_]+)"')
METRIC_NAME = re.compile(r"\b(card_[a-z0-9_]+)\b")


def defined_metrics(root):
    """Metric names the sources create (swift-metrics `label: "card_..."`), with the suffixes Prometheus adds."""
    names = set()
    for path in glob.glob(os.path.join(root, "Sources", "**", "*.swift"), recursive=True):
        with open(path, encoding="utf-8") as f:
            names.update(METRIC_LABEL.findall(f.read()))
    return names | {n + suffix for n in names for suffix in ("_bucket", "_sum", "_count")}


def check_alert_rules(c, root, path, rules):
    """Every rule is named, has an expression, a severity and a summary, and every card_* metric it
    uses is one the sources create (a renamed metric would silence the alert for good)."""
    metrics = defined_metrics(root)
    for group in rules["groups"]:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            if not c.check(name, f"{path}: a rule of group {group.get('name')} has no alert or record name"):
                continue
            expr = str(rule.get("expr") or "")
            c.check(expr, f"{path}: alert {name} has no expr")
            if rule.get("alert"):
                c.check((rule.get("labels") or {}).get("severity") in ("page", "ticket"),
                        f"{path}: alert {name} needs labels.severity page or ticket")
                c.check((rule.get("annotations") or {}).get("summary"), f"{path}: alert {name} has no annotations.summary")
            for metric in sorted(set(METRIC_NAME.findall(expr))):
                c.check(metric in metrics, f"{path}: alert {name} uses {metric}, which no source under Sources/ creates")


def check_gateway(c, root, doc, name, s, env, brokers, label):
    """The portals' gateway: reachable where published, healthy, keyed, on the right brokers."""
    c.check(s.get("restart") in ("always", "unless-stopped"), f"[{label}] {name}: the gateway should restart (always/unless-stopped)")
    port = env.get("CARD_GATEWAY_PORT") or "8090"
    published = [str(p) for p in s.get("ports") or []]
    if published:
        c.check(env.get("CARD_GATEWAY_HOST") == "0.0.0.0",
                f"[{label}] {name}: publishes the gateway but CARD_GATEWAY_HOST is not 0.0.0.0 (the default, 127.0.0.1, is unreachable from outside the container)")
        c.check(any(p.split(":")[-1] == port for p in published),
                f"[{label}] {name}: publishes {published}, none of them the gateway's port {port}")
    test = " ".join(as_list((s.get("healthcheck") or {}).get("test")))
    c.check(re.search(rf"localhost:{port}/healthz", test),
            f"[{label}] {name}: health check does not probe /healthz on CARD_GATEWAY_PORT {port}: {test!r}")
    keys_file = env.get("CARD_GATEWAY_KEYS_FILE")
    c.check(env.get("CARD_GATEWAY_KEYS") or keys_file, f"[{label}] {name}: no API keys (CARD_GATEWAY_KEYS or CARD_GATEWAY_KEYS_FILE)")
    if keys_file and keys_file.startswith("/run/secrets/"):
        secret = keys_file[len("/run/secrets/"):]
        used = [x if isinstance(x, str) else x.get("source") for x in s.get("secrets") or []]
        c.check(secret in used, f"[{label}] {name}: CARD_GATEWAY_KEYS_FILE names secret {secret}, which the service does not mount")
        declared = (doc.get("secrets") or {}).get(secret)
        if c.check(declared, f"[{label}] {name}: secret {secret} is not declared under secrets:"):
            path = declared.get("file", "")
            c.check(os.path.exists(os.path.join(root, path)), f"[{label}] secret {secret}: file {path} does not exist")
    uploads = env.get("CARD_GATEWAY_UPLOADS_DIR")
    if c.check(uploads and uploads.startswith("/"),
               f"[{label}] {name}: CARD_GATEWAY_UPLOADS_DIR is not an absolute path (uploads would land in the container's working folder)"):
        targets = []
        for v in s.get("volumes") or []:
            targets.append(v.get("target") if isinstance(v, dict) else str(v).split(":")[1] if ":" in str(v) else str(v))
        c.check(uploads in targets, f"[{label}] {name}: no volume on CARD_GATEWAY_UPLOADS_DIR {uploads}: uploaded claim-check objects die with the container")
    deps = s.get("depends_on") or {}
    c.check("topics" in deps, f"[{label}] {name}: starts without waiting for the topics")
    for server in (env.get("CARD_BROKERS") or "").split(","):
        host, _, port_text = server.partition(":")
        c.check(host in brokers and port_text == str(brokers[host]),
                f"[{label}] {name}: CARD_BROKERS entry {server} is not a broker service's internal listener {brokers}")


def compose_cli():
    if shutil.which("docker"):
        r = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if r.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True, help="folder of the built executables")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--compose", default=None, help="compose file (default: <root>/docker-compose.yml)")
    parser.add_argument("--no-compose-cli", action="store_true", help="skip `docker compose config`")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    compose_path = os.path.abspath(args.compose or os.path.join(root, "docker-compose.yml"))
    c = Checker()
    helps = HelpCache(args.bin_dir)
    executables = package_executables(root)
    env_sets = [("default", {}), ("monitoring", {"COMPOSE_PROFILES": "monitoring"})]
    for path in sorted(glob.glob(os.path.join(root, "deploy", "*.env"))):
        env_sets.append((os.path.relpath(path, root), read_env_file(path)))
    try:
        for label, env in env_sets:
            check_config(c, root, compose_path, env, label, helps, executables)
    except (yaml.YAMLError, OSError, KeyError, ValueError) as error:
        c.check(False, f"{compose_path}: {type(error).__name__}: {error}")

    cli = None if args.no_compose_cli else compose_cli()
    if cli is None:
        print("note: no `docker compose` or `docker-compose`: schema validation by Compose itself skipped")
    else:
        for label, env in env_sets:
            run_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_") and not k.startswith("CARD_")}
            run_env.update(env)
            r = subprocess.run([*cli, "-f", compose_path, "--project-directory", root, "config", "-q"],
                               capture_output=True, text=True, env=run_env, cwd=root)
            c.check(r.returncode == 0, f"[{label}] `{' '.join(cli)} config` rejects the file: {(r.stderr or r.stdout).strip()}")
        print(f"compose schema checked with `{' '.join(cli)} config`")

    for failure in c.failures:
        print(f"FAIL {failure}")
    print(f"compose: {c.passed} passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
