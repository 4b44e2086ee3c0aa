"""The command line as people and scripts meet it: short flags, help, colour, closed pipes, the version.

Each through invoke, as a separate process (a terminal where colour is the point: a pseudo-terminal).
"""

import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import threading

import pytest
from invoke import Collection, Task

import tasks
from portyfoul_infra import __version__
from portyfoul_infra.artifacts.generated import TEMPLATE_FILE, generated_dir
from support import ROOT, invoke

ANSI = "\x1b["
TASKS = sorted(t.name.replace("_", "-") for t in vars(tasks).values() if isinstance(t, Task))


def contexts():
    """invoke's parser context of every task (its flags, as `invoke` builds them)."""
    return Collection.from_module(tasks).to_contexts()


# ---------- short flags: one meaning each, or none

def test_every_short_flag_means_one_thing_in_every_task():
    meanings: dict[str, set[str]] = {}
    for context in contexts():
        for argument in context.flags.values():
            for name in argument.names:
                if len(name) == 1:
                    meanings.setdefault(name, set()).add(argument.name)
    assert meanings == {"e": {"env"}, "y": {"yes"}, "s": {"service"}}


def test_a_short_flag_no_task_has_is_refused_not_guessed():
    """`-t 900` once meant --tag 900 to release (and --timeout elsewhere): a release of image tag 900."""
    proc = invoke("release", "-t", "900", "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: No idea what '-t' is!; usage: `invoke --help release`"
    assert proc.stdout == ""


def test_the_short_flags_work():
    proc = invoke("cost", "-e", "prod")
    assert proc.returncode == 0 and "monthly estimate for prod" in proc.stdout


# ---------- help: types and units, positional arguments as such, one example

def help_of(name: str) -> str:
    proc = invoke("--help", name)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_names_every_value_by_its_type_or_unit():
    text = help_of("release")
    assert "--timeout=SECONDS" in text and "--tag=TAG" in text and "-s SERVICE, --service=SERVICE" in text
    assert "(1 to 86400; default 600)" in text
    assert "-e ENV, --env=ENV" in text
    assert "--port=PORT" in help_of("sandbox") and "--allow-replace=LOGICAL_ID" in help_of("stack-update")


def test_positional_arguments_are_shown_as_positional():
    text = help_of("config-set")
    assert text.startswith("Usage: inv[oke] [--core-opts] config-set KEY VALUE [--options]")
    assert re.search(r"^Arguments:\n  KEY +The setting: price-update-interval\n  VALUE ", text, re.M)
    assert "--key" not in text and "--value" not in text
    assert "secrets-set NAME [--options]" in help_of("secrets-set")
    missing = invoke("config-set", "price-update-interval")
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("error: 'config-set' did not receive required positional arguments: 'value'; "
                                      "usage: `invoke --help config-set`")


@pytest.mark.parametrize("name", TASKS)
def test_every_task_has_typed_help_and_one_example(name):
    text = help_of(name)
    assert "STRING" not in text, name
    examples = re.findall(r"^  Example: (.*)$", text, re.M)
    assert len(examples) == 1 and f"invoke {name}" in examples[0], text
    assert "--no-color" in text


def test_rollback_help_says_where_it_goes():
    """It goes to the newest good release (from the history), not to the previous task definition revision."""
    text = help_of("rollback")
    assert "newest release that succeeded and differs from what runs now" in text
    assert "previous task definition" not in text
    assert "--to=TAG" in text


def test_go_names_only_tasks_that_exist():
    script = (ROOT / "go").read_text()
    for name in re.findall(r"invoke ([a-z][a-z-]+)", script):
        assert name in TASKS, name


# ---------- colour: a terminal, per stream; never with NO_COLOR or --no-color

def run_with_terminal(*args, out_tty: bool, err_tty: bool, extra_env=None):
    """(stdout, stderr) of `invoke args`, each stream a pseudo-terminal or a file."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update(extra_env or {})
    master, slave = pty.openpty()
    seen: list[bytes] = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, timeout=120,
                              stdin=subprocess.DEVNULL, stdout=slave if out_tty else out_file,
                              stderr=slave if err_tty else err_file)
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
        out_file.seek(0)
        err_file.seek(0)
        terminal = b"".join(seen).decode()
        out = terminal if out_tty else out_file.read().decode()
        err = terminal if err_tty else err_file.read().decode()
    return proc.returncode, out, err


def test_colour_on_stdout_only_when_stdout_is_a_terminal():
    code, out, _ = run_with_terminal("cost", out_tty=True, err_tty=False)
    assert code == 0 and f"{ANSI}1mmonthly estimate for dev" in out
    code, out, _ = run_with_terminal("cost", out_tty=False, err_tty=True)
    assert code == 0 and "monthly estimate for dev" in out and ANSI not in out


def test_a_redirected_stderr_gets_no_escape_codes_while_the_terminal_does():
    code, _, err = run_with_terminal("cost", "--env", "qa", out_tty=True, err_tty=False)
    assert code == 2 and err == "error: unknown environment 'qa'; choose one of: dev, staging, prod\n"
    code, _, err = run_with_terminal("cost", "--env", "qa", out_tty=False, err_tty=True)
    assert code == 2 and f"{ANSI}31merror: unknown environment 'qa'" in err


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color_and_the_flag_turn_colour_off_on_a_terminal(how):
    args, extra = (("cost",), {"NO_COLOR": "1"}) if how == "NO_COLOR" else (("cost", "--no-color"), {})
    code, out, _ = run_with_terminal(*args, out_tty=True, err_tty=True, extra_env=extra)
    assert code == 0 and "monthly estimate for dev" in out and ANSI not in out


# ---------- a reader that goes away

def test_a_closed_pipe_ends_quietly_with_141():
    """`invoke cost | head -1`: the reader has gone; no traceback, exit 141 (128 + SIGPIPE), as `git log | head`."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: deterministic
    env = {**os.environ, "PORTYFOUL_POLL_SECONDS": "0.02"}
    proc = subprocess.run([sys.executable, "-m", "invoke", "cost"], cwd=ROOT, env=env, stdout=write,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
    os.close(write)
    assert proc.returncode == 141
    assert proc.stderr == b""


def test_a_pipe_closed_half_way_ends_quietly_too():
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "cost", "--env", "prod"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout.readline().startswith(b"monthly estimate for prod")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) in (0, 141)  # 0 when every line fit in the pipe before it closed
    assert err == b""


# ---------- the version

def test_version_prints_the_tool_and_the_template_version():
    meta = json.loads((generated_dir() / TEMPLATE_FILE).read_text())["Metadata"]["PortyfoulInfra"]
    proc = invoke("version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"portyfoul-infra {__version__}"
    assert f"template        {meta['Version']} {meta['ContentHash']}" in proc.stdout
    document = json.loads(invoke("version", "--json").stdout)
    assert document == {"schema": "portyfoul.version/1", "version": __version__,
                        "template": {"path": "generated/portyfoul-infra.json", "version": meta["Version"],
                                     "content_hash": meta["ContentHash"]},
                        "python": document["python"], "invoke": document["invoke"]}


# ---------- logs: the header, and a word when the window is empty

def test_logs_with_no_events_prints_the_header_and_says_so(shared_dev_stack):
    proc = invoke("logs", "--since", "5m", env=shared_dev_stack)
    assert proc.returncode == 0, proc.stderr
    header, *rest = proc.stdout.splitlines()
    assert header.startswith("environment dev · account 946652103073 · region us-east-2 · stack portyfoul-infra")
    assert rest == ["no log events from web, worker in the last 5m"]
    worker = invoke("logs", "-s", "worker", env=shared_dev_stack)
    assert worker.stdout.splitlines()[-1] == "no log events from worker in the last 10m"


# ---------- sandbox: only its own local AWS, stopped however it ends

def test_sandbox_refuses_a_port_something_answers_on_before_starting_anything():
    import socket
    with socket.socket() as other:  # another local AWS, or anything else listening there
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        proc = invoke("sandbox", "--port", str(port))
    assert proc.returncode == 2
    assert proc.stdout == ""  # nothing built, nothing started
    assert proc.stderr == (f"error: --port {port}: something already answers there on 127.0.0.1, and the sandbox "
                           "must talk only to the local AWS it starts; choose another port, or --port 0 for any free "
                           "one. Nothing was started\n")


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_sandbox_stopped_by_a_signal_stops_its_local_aws(signal_name):
    import signal
    import socket

    from portyfoul_infra.local.server import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "sandbox", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:  # wait for the local AWS, not for a clock
            if f"local AWS on http://127.0.0.1:{port}" in line:
                break
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) == 0  # it runs
        proc.send_signal(getattr(signal, signal_name))
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (143 if signal_name == "SIGTERM" else 130), err
    assert err.splitlines()[-1].startswith(f"error: stopped by {signal_name}")
    assert err.splitlines()[-1].endswith("the local AWS stops with it, and nothing outside this machine changed")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody answers: the local AWS was stopped
