#!/usr/bin/env python3
"""Cross-checks amali's conformance suite against moto's Step Functions executor, the second oracle of the suite.

    python3 bench/conformance_vs_moto.py            # needs moto_server and boto3 (pip install "moto[server]")

Runs every case of tests/fixtures/conformance/*.json that moto can run (JSONPath definitions without Task states:
moto's executor calls real services for tasks and has no JSONata) on a fresh moto_server state, and prints where
moto agrees with the expected outcome, which is AWS's documented behaviour. Known moto divergences are labelled:
moto lets States.ALL catch States.Runtime (AWS does not), and its error names and causes are sometimes coarser.
A disagreement is a place to look, not a verdict: the cases cite the AWS documentation they follow.
"""

import glob
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


def parse(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def runnable(case):
    text = json.dumps(case["definition"])
    if case.get("mocks") or "JSONata" in text or '"Task"' in text:
        return False
    # Wait states wait for real in moto: skip long ones.
    return '"Seconds": ' not in text or all(
        w.get("Seconds", 0) <= 1 for w in iter_states(case["definition"]) if w.get("Type") == "Wait")


def iter_states(definition):
    for state in definition.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from iter_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from iter_states(state[key])


def main():
    port = free_port()
    server = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint + "/moto-api/").read()
                break
            except Exception:
                time.sleep(0.1)
        sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        cases = []
        for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/conformance/*.json"))):
            for case in json.load(open(path)):
                cases.append((os.path.basename(path), case))
        agree, disagree, skipped, unparsed = 0, [], 0, []
        for file, case in cases:
            if not runnable(case):
                skipped += 1
                continue
            post(endpoint + "/moto-api/reset", {})
            post(endpoint + "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
            try:
                arn = sfn.create_state_machine(name="c", definition=json.dumps(case["definition"]),
                                               roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
            except sfn.exceptions.ClientError as e:
                unparsed.append(f"{file}:{case['name']}: {str(e)[:120]}")
                continue
            ex = sfn.start_execution(stateMachineArn=arn, name="conformance", input=json.dumps(case.get("input", {})))
            for _ in range(200):
                d = sfn.describe_execution(executionArn=ex["executionArn"])
                if d["status"] != "RUNNING":
                    break
                time.sleep(0.05)
            expect = case["expect"]
            got = {"status": d["status"]}
            same = d["status"] == expect["status"]
            if same and expect["status"] == "SUCCEEDED" and "output" in expect:
                got["output"] = parse(d.get("output", "null"))
                same = got["output"] == expect["output"]
            if same and expect["status"] == "FAILED" and expect.get("error"):
                same = d.get("error") == expect["error"]
                got["error"] = d.get("error")
            if same:
                agree += 1
            else:
                note = ""
                if "States.Runtime" in json.dumps(expect) and d["status"] == "SUCCEEDED":
                    note = " (known: moto lets States.ALL catch States.Runtime)"
                disagree.append(f"{file}:{case['name']}: expected {json.dumps(expect)[:160]}, moto {json.dumps(got)[:160]}{note}")
        print(f"{agree} of {agree + len(disagree)} runnable cases agree with moto ({skipped} cases need tasks, "
              f"mocks or JSONata, which moto's executor does not run)")
        for line in disagree:
            print("  " + line)
        print(f"{len(unparsed)} definitions moto's parser rejects (newer ASL than its grammar):")
        for line in unparsed:
            print("  " + line)
    finally:
        server.terminate()


if __name__ == "__main__":
    sys.exit(main())
