# Copyright (c) vmguest.qga contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the packaging tests: the collection built once and installed from its tarball."""

from __future__ import annotations

import pytest
from installed_collection import InstalledCollection, build_and_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledCollection:
    """Build the tarball from this checkout and install it into a clean collections path."""
    return build_and_install(str(tmp_path_factory.mktemp("galaxy")))
