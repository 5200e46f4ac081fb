"""What the evaluation scripts share: the virtualenv under target/ that holds a script's peers
(installed from PyPI on first use, again when the pinned list changes), and running the script
again inside it."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def venv_python(name, packages):
    """The python of target/<name>, with `packages` (pinned) installed."""
    venv = os.path.join(ROOT, "target", name)
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    stamp = os.path.join(venv, "installed.txt")
    if not os.path.exists(stamp) or open(stamp).read() != "\n".join(packages):
        subprocess.check_call([py, "-m", "pip", "install", "-q", *packages])
        with open(stamp, "w") as f:
            f.write("\n".join(packages))
    return py


def run_inside(py, script):
    """Runs `script` again under `py` (same arguments) unless this process already is that one."""
    if os.path.realpath(sys.prefix) != os.path.realpath(os.path.dirname(os.path.dirname(py))):
        os.execv(py, [py, os.path.abspath(script), *sys.argv[1:]])
