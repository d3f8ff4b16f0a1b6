# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: built with ansible-galaxy, installed from the tarball, used by a play."""

from __future__ import annotations

import json
import os
import tarfile
import typing as t

import pytest
from ansible_run import _bin
from collection_path import REPO_ROOT
from hostagent import HostAgent
from installed_collection import Completed, InstalledCollection, run_ok
from stderr_warnings import our_stderr

# plugins/<directory> -> ansible-doc plugin type, for the plugin types with one plugin per file.
PLUGIN_DIRECTORIES = {
    "modules": "module", "connection": "connection", "inventory": "inventory", "lookup": "lookup",
    "callback": "callback", "become": "become", "cache": "cache", "vars": "vars", "strategy": "strategy",
    "shell": "shell", "cliconf": "cliconf", "httpapi": "httpapi", "netconf": "netconf", "terminal": "terminal",
}
# Not plugins: shared code and documentation fragments.
NON_PLUGIN_DIRECTORIES = {"module_utils", "plugin_utils", "doc_fragments", "action", "__pycache__"}
# One file may hold several filters/tests; each is documented by a NAME.yml next to it.
YAML_DOCUMENTED_DIRECTORIES = {"filter": "filter", "test": "test"}


def plugins_in_tree() -> dict[str, list[str]]:
    """Every plugin in this checkout's plugins/ by ansible-doc type: {'module': ['qga_copy', ...], ...}."""
    found: dict[str, list[str]] = {}
    plugins = os.path.join(REPO_ROOT, "plugins")
    for directory in sorted(os.listdir(plugins)):
        path = os.path.join(plugins, directory)
        if directory in NON_PLUGIN_DIRECTORIES or not os.path.isdir(path):
            continue
        if directory in YAML_DOCUMENTED_DIRECTORIES:
            names = [name[:-4] for name in os.listdir(path) if name.endswith(".yml")]
            plugin_type = YAML_DOCUMENTED_DIRECTORIES[directory]
        else:
            assert directory in PLUGIN_DIRECTORIES, "plugins/%s: unknown plugin directory" % directory
            names = [name[:-3] for name in os.listdir(path) if name.endswith(".py") and name != "__init__.py"]
            plugin_type = PLUGIN_DIRECTORIES[directory]
        if names:
            found[plugin_type] = sorted(names)
    return found


def roles_in_tree() -> list[str]:
    """Every role under roles/ in this checkout."""
    roles = os.path.join(REPO_ROOT, "roles")
    if not os.path.isdir(roles):
        return []
    return sorted(name for name in os.listdir(roles) if os.path.isdir(os.path.join(roles, name, "tasks")))


# The collection is a few MiB of source; anything bigger carries something that is not meant for users.
MAX_TARBALL_BYTES = 5 * 1024 * 1024

PLUGINS = plugins_in_tree()
ROLES = roles_in_tree()
MODULES = PLUGINS["module"]


# Words each plugin's and role's text documentation must show (its options, return values, key notes),
# checked in its own section of the rendered text.
EXPECTED_IN_DOC: dict[str, dict[str, tuple[str, ...]]] = {
    "module": {
        "qga_copy": ("validate", "checksum"),
        "qga_exec": ("creates", "stdout_b64"),
        "qga_fetch": ("fail_on_missing", "remote_checksum"),
        "qga_fsfreeze": ("auto_thaw", "VSS", "frozen_seconds"),
        "qga_fstrim": ("minimum", "trimmed_bytes"),
        "qga_info": ("gather_subset", "unsupported"),
        "qga_memory_blocks": ("phys_index", "online_count"),
        "qga_shutdown": ("reboot_timeout", "boot_id"),
        "qga_ssh_keys": ("exclusive", "removed"),
        "qga_suspend": ("hybrid", "dompmwakeup"),
        "qga_time": ("tolerance", "drift_before"),
        "qga_user_password": ("update_password", "crypted"),
        "qga_vcpus": ("online_cpus", "can-offline"),
        "qmp_snapshot": ("blockdev-snapshot-sync", "qemu.qmp"),
    },
    "inventory": {
        "agents": ("sockets", "libvirt_uris", "probe_timeout", "hostnames", "keyed_groups", "cache_plugin"),
    },
    "connection": {
        "qga": ("executor", "executor_dir", "persist", "command_timeout"),
    },
    "role": {
        "agent_check": ("agent_check_required_features", "agent_check_fail_unreachable",
                        "agent_check_python_candidates", "agent_check_channel"),
        "snapshot_freeze": ("snapshot_freeze_provider", "snapshot_freeze_qmp_socket"),
    },
}


def ansible_doc(installed: InstalledCollection, *args: str) -> Completed:
    """Run ansible-doc against the installed copy; it must exit 0 and print nothing of ours on stderr.

    (Python warnings that third-party imports print for every Ansible command are not ours: stderr_warnings.)
    """
    completed = run_ok([_bin("ansible-doc"), *args], env=installed.env)
    ours = our_stderr(completed.stderr)
    assert ours.strip() == "", "ansible-doc %s warned:\n%s" % (" ".join(args), ours)
    return completed


def doc_sections(text: str, names: t.Sequence[str]) -> dict[str, str]:
    """ansible-doc's text output for several plugins, split at each one's header line ("> ... NAME ...")."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines(keepends=True):
        if line.startswith("> "):
            header = {word.lower() for word in line.split()}
            current = next((name for name in names if name.lower() in header), None)
            assert current not in sections, "%s: documented twice" % current
        if current is not None:
            sections[current] = sections.get(current, "") + line
    return sections


def assert_doc_shows(plugin_type: str, name: str, text: str) -> None:
    """The words EXPECTED_IN_DOC lists for vmguest.qga.NAME are in `text`, its own documentation."""
    for word in EXPECTED_IN_DOC.get(plugin_type, {}).get(name, ()):
        assert word in text, "%s %s: %r is not in its documentation" % (plugin_type, name, word)


def listed_names(listing: str) -> set[str]:
    """The plugin or role names of an `ansible-doc -l` listing (roles are listed as `NAME:`)."""
    return {line.split()[0].rstrip(":") for line in listing.splitlines() if line.startswith("vmguest.qga.")}


def test_the_tree_has_the_plugins_the_collection_is_about() -> None:
    assert "qga_info" in MODULES and PLUGINS["connection"] == ["qga"], PLUGINS


def test_every_action_plugin_is_documented_by_a_module_of_its_name() -> None:
    actions = os.path.join(REPO_ROOT, "plugins", "action")
    for name in os.listdir(actions):
        if name.endswith(".py") and name != "__init__.py":
            assert name[:-3] in MODULES, "plugins/action/%s has no plugins/modules/%s" % (name, name)


def test_the_tarball_carries_no_test_output_or_venv(installed: InstalledCollection) -> None:
    for unwanted in (".venv", "tests/output", ".ci", "docs/_build"):
        assert not os.path.exists(os.path.join(installed.root, unwanted)), unwanted
    assert os.path.exists(os.path.join(installed.root, "plugins", "connection", "qga.py"))
    assert os.path.exists(os.path.join(installed.root, "qapi", "qapi-schema.json"))


def test_the_tarball_carries_no_virtualenv_or_build_output_anywhere(installed: InstalledCollection) -> None:
    with tarfile.open(installed.tarball) as tarball:
        members = tarball.getnames()
    unwanted = [name for name in members
                if any(part.startswith(".venv") or part in ("_build", ".benchmarks") for part in name.split("/"))]
    assert not unwanted, "%d unwanted files, first: %s (add them to build_ignore in galaxy.yml)" % (
        len(unwanted), unwanted[:5])
    assert os.path.getsize(installed.tarball) < MAX_TARBALL_BYTES, os.path.getsize(installed.tarball)


def test_the_tarball_carries_the_docsite_and_the_ee_requirements(installed: InstalledCollection) -> None:
    with tarfile.open(installed.tarball) as tarball:
        members = set(tarball.getnames())
    for wanted in ("docs/docsite/extra-docs.yml", "docs/docsite/links.yml", "meta/runtime.yml",
                   "meta/execution-environment.yml", "meta/ee-requirements.txt", "bindep.txt"):
        assert wanted in members, wanted


@pytest.mark.parametrize("plugin_type", sorted(PLUGINS))
def test_ansible_doc_lists_every_plugin_of_the_tree(installed: InstalledCollection, plugin_type: str) -> None:
    listing = ansible_doc(installed, "-t", plugin_type, "-l", "vmguest.qga").stdout
    assert listed_names(listing) == {"vmguest.qga." + name for name in PLUGINS[plugin_type]}


def test_ansible_doc_list_without_a_type_lists_the_modules_cleanly(installed: InstalledCollection) -> None:
    listing = ansible_doc(installed, "--list", "vmguest.qga").stdout
    assert listed_names(listing) == {"vmguest.qga." + name for name in MODULES}


@pytest.mark.parametrize("plugin_type", sorted(PLUGINS))
def test_ansible_doc_documents_every_plugin(installed: InstalledCollection, plugin_type: str) -> None:
    names = ["vmguest.qga." + name for name in PLUGINS[plugin_type]]
    docs = json.loads(ansible_doc(installed, "-t", plugin_type, "--json", *names).stdout)
    for name in names:
        doc = (docs.get(name) or {}).get("doc") or {}
        assert doc.get("short_description") and doc.get("description"), "%s %s: no documentation" % (plugin_type, name)
        if plugin_type == "module":
            assert docs[name].get("examples"), "%s: no EXAMPLES" % name
        if plugin_type == "module" and name.startswith("vmguest.qga.qga_"):
            assert "channel" in doc.get("options", {}), name  # the shared agent channel doc fragment made it in
    text = ansible_doc(installed, "-t", plugin_type, *names).stdout  # the text renderer copes with every doc
    for name in names:
        assert name in text, name
    assert set(EXPECTED_IN_DOC.get(plugin_type, {})) <= set(PLUGINS[plugin_type]), "EXPECTED_IN_DOC is stale"
    sections = doc_sections(text, names)
    assert sorted(sections) == sorted(names), "a header per plugin expected:\n%s" % text
    for name in PLUGINS[plugin_type]:
        assert_doc_shows(plugin_type, name, sections["vmguest.qga." + name])


@pytest.mark.skipif(not ROLES, reason="no roles/ in this checkout yet")
def test_ansible_doc_lists_every_role_of_the_tree(installed: InstalledCollection) -> None:
    listing = ansible_doc(installed, "-t", "role", "-l", "vmguest.qga").stdout
    assert listed_names(listing) == {"vmguest.qga." + role for role in ROLES}
    assert set(EXPECTED_IN_DOC["role"]) <= set(ROLES), "EXPECTED_IN_DOC is stale"


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_documents_each_role(installed: InstalledCollection, role: str) -> None:
    name = "vmguest.qga." + role
    entry_points = json.loads(ansible_doc(installed, "-t", "role", "--json", name).stdout)[name]["entry_points"]
    assert entry_points["main"].get("short_description"), "%s: the main entry point has no short_description" % name
    for entry_point, spec in entry_points.items():
        for option, option_spec in (spec.get("options") or {}).items():
            assert option_spec.get("description"), "%s %s: option %s is undocumented" % (name, entry_point, option)
    text = ansible_doc(installed, "-t", "role", name).stdout  # the text renderer copes with the spec
    assert name in text
    assert_doc_shows("role", role, text)


def test_a_play_runs_from_the_installed_copy(installed: InstalledCollection, tmp_path: t.Any) -> None:
    with HostAgent() as agent:
        inventory = tmp_path / "inventory.ini"
        inventory.write_text("h ansible_connection=vmguest.qga.qga ansible_qga_channel=%s\n" % agent.channel)
        play = tmp_path / "play.yml"
        play.write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - vmguest.qga.qga_info: {gather_subset: [osinfo]}\n      register: info\n"
            "    - command: echo installed\n      register: echo\n"
            "    - assert: {that: [info.osinfo.id | length > 0, echo.stdout == 'installed']}\n"
        )
        completed = run_ok([_bin("ansible-playbook"), "-i", str(inventory), str(play)], env=installed.env,
                           cwd=str(tmp_path))
    assert "failed=0" in completed.stdout
    assert our_stderr(completed.stderr).strip() == "", completed.stderr  # no warning of ours
    header = ansible_doc(installed, "-t", "connection", "vmguest.qga.qga").stdout.splitlines()[0]
    assert installed.collections_path in header  # the installed copy, not the checkout, served the play
