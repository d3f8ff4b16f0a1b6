"""Offline stand-in for the get-pip script that ``ansible-test --venv`` downloads.

ansible-test bootstraps pip into each virtual environment it creates with a get-pip
script fetched from ci-files.testing.ansible.com, which CI cannot reach. It first looks
for ``~/.ansible/test/cache/get_pip_<pip version>.py``; scripts/sanity.sh copies this file
there. Like get-pip, it takes pip install arguments (e.g. ``pip==24.2``): it installs the
pip bundled with Python (ensurepip) and then runs ``python -m pip install`` with them,
so the exact pip ansible-test asks for comes from PyPI.
"""

# VMGUEST-QGA-GET-PIP-STANDIN (scripts/sanity.sh only replaces cache files carrying this marker)

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

# get-pip options that pip install does not know.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel", "--no-pip"}


def main() -> int:
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in this process; the pip install below
    # needs the machine's pip configuration (index, certificates), so keep a copy first.
    environ = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
    if any(not argument.startswith("-") for argument in arguments):
        status = subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environ)
        if status:
            return status
    if "--no-setuptools" in sys.argv[1:]:
        # ensurepip of Python < 3.12 also installs setuptools, which get-pip would leave out.
        subprocess.call(
            [sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
            env=environ,
            stderr=subprocess.DEVNULL,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
