#!/usr/bin/env python3
"""The person's hands in playbook tests: watch revive's --json events and do what each
prompt asks, through the simulator's control socket, once per prompt.

A prompt "episode" starts at a prompt event and ends at the next step event; one action is
taken per episode (revive may repeat a prompt with more detail inside one episode), and a
prompt already answered is never acted on again later, as a person would not press the
buttons of an instruction that has passed.

usage: hands.py EVENTS_FILE SIMCTL DEVICE_INDEX REVIVE_PID
"""
import json
import os
import subprocess
import sys
import time

events, simctl, device, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def act(title):
    t = title.lower()
    if "dfu" in t:
        cmd = "dfu-buttons"
    elif "restart" in t:
        cmd = "force-restart"
    elif "trust" in t:
        cmd = "trust"
    else:
        return  # a better cable, a port on the computer: nothing to do in the simulator
    time.sleep(0.1)
    subprocess.run([simctl, "--raw", cmd, "device=" + device], stdout=subprocess.DEVNULL, check=False)


def alive():
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


pos, episode, acted, pending = 0, 0, 0, None
while alive():
    try:
        with open(events) as f:
            f.seek(pos)
            chunk = f.read()
    except OSError:
        chunk = ""
    lines = chunk.split("\n")
    pos += len(chunk) - len(lines[-1])  # leave a partial last line for the next read
    for line in lines[:-1]:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind = ev.get("type")
        if kind == "prompt":
            if pending is None:
                episode += 1
            f = ev.get("fields", {})
            # revive's prompts carry a title; the usb plugin's Trust prompt a kind/message
            pending = " ".join(str(f.get(k, "")) for k in ("title", "kind", "message"))
        elif kind in ("step_started", "step_finished", "step_failed", "outcome"):
            pending = None
    if pending is not None and acted != episode:
        acted = episode
        act(pending)
    time.sleep(0.05)
