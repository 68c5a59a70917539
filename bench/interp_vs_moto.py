#!/usr/bin/env python3
"""Benchmark: amali's interpreter and moto's Step Functions executor, side by side.

Two workloads, each run by both engines on the same definition and input:
  - transitions: a loop of Pass and Choice states (N state transitions),
  - map: an inline Map of Pass states over N items (the issue's 10,000-item target: under 1 s).
amali runs as `amali exec` (release build, wall time of the process); moto runs its executor in a
`moto_server` on loopback (wall time from StartExecution to a terminal status). Prints one table
with the ratio moto/amali. A benchmark, not a test: numbers vary with the machine's load.

Usage: python3 bench/interp_vs_moto.py [--items 10000] [--transitions 2000] [--amali PATH]
"""
import argparse, json, os, socket, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def map_definition():
    return {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                              "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}}},
            "End": True}}}

def loop_definition():
    return {"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "limit.$": "$.limit"}, "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.limit", "Next": "End"}], "Default": "Inc"},
        "End": {"Type": "Succeed"}}}

def run_amali(amali, definition, payload, repeat=3):
    with tempfile.TemporaryDirectory() as d:
        df, inf = os.path.join(d, "def.json"), os.path.join(d, "in.json")
        json.dump(definition, open(df, "w")); json.dump(payload, open(inf, "w"))
        best = None
        for _ in range(repeat):
            t = time.perf_counter()
            out = subprocess.run([amali, "exec", df, "--input", "@" + inf], capture_output=True, text=True)
            elapsed = time.perf_counter() - t
            status = json.loads(out.stdout)["status"] if out.stdout else out.stderr.strip()
            best = elapsed if best is None else min(best, elapsed)
        return best, status

def run_moto(definition, payload, timeout):
    try:
        import boto3
    except ImportError:
        return None, "boto3 missing (pip install 'moto[server]' boto3)"
    port = free_port()
    server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1); break
            except Exception:
                time.sleep(0.1)
        req = urllib.request.Request(url + "/moto-api/config", data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=5)
        # A second StartExecution in one region fails in this moto: one region per run.
        sfn = boto3.client("stepfunctions", region_name="eu-west-3", endpoint_url=url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        arn = sfn.create_state_machine(name="bench", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
        t = time.perf_counter()
        ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
        while True:
            status = sfn.describe_execution(executionArn=ex)["status"]
            if status != "RUNNING" or time.perf_counter() - t > timeout:
                break
            time.sleep(0.05)
        return time.perf_counter() - t, status
    finally:
        server.terminate(); server.wait()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--transitions", type=int, default=2000)
    ap.add_argument("--amali", default=None)
    ap.add_argument("--moto-timeout", type=float, default=600)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/amali-target"))
    amali = args.amali or os.path.join(target, "release", "amali")
    if not args.amali:
        subprocess.run(["cargo", "build", "--release", "-j2", "--bin", "amali"], cwd=root, check=True)
    rows = []
    loops = args.transitions // 2
    for name, definition, payload, transitions in [
        (f"{args.transitions} transitions (Pass/Choice loop)", loop_definition(), {"n": 0, "limit": loops}, 2 * loops + 1),
        (f"inline Map, {args.items} Pass items", map_definition(), {"items": list(range(args.items))}, args.items),
    ]:
        a, a_status = run_amali(amali, definition, payload)
        m, m_status = run_moto(definition, payload, args.moto_timeout)
        rows.append((name, a, a_status, m, m_status, transitions))
    print(f"{'workload':40} {'amali s':>9} {'moto s':>9} {'moto/amali':>11} {'amali transitions/s':>20}")
    for name, a, a_status, m, m_status, n in rows:
        ratio = f"{m / a:.1f}x" if m else "n/a"
        mtxt = f"{m:9.3f}" if m else f"{'n/a':>9}"
        print(f"{name:40} {a:9.3f} {mtxt} {ratio:>11} {n / a:20.0f}   (amali {a_status}, moto {m_status})")
    map_time = rows[1][1]
    print(f"\n10,000-item inline Map under 1 second: {'yes' if args.items >= 10000 and map_time < 1 else 'no'} ({map_time:.3f} s)")

if __name__ == "__main__":
    sys.exit(main())
