"""Makes the Prefect UI screenshots in docs/img/ that docs/operations.md shows.

    python docs/screenshots.py            # rewrites docs/img/prefect-*.png

A real ``prefect server start`` (UI enabled) on 127.0.0.1, in a temporary
PREFECT_HOME; the deployments of `newsflow serve` registered on it and the
automations installed (with a webhook notification block to a closed local
port, so that all three exist); then a headless Chromium (Debian's
``chromium`` package: ``apt-get install -y chromium``) takes each page.  The
UI is a single-page app: ``--virtual-time-budget`` lets its scripts load the
data before the picture is taken.  Regenerate after a change to the flows'
parameters or their docstrings (the form shows their descriptions) or to
flows/automations.py.  Nothing is run and nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"
WINDOW = "1400,1000"
VIRTUAL_TIME_MS = 15_000


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no chromium on PATH: apt-get install -y chromium")


def screenshot(url: str, target: Path, profile: Path) -> None:
    """``url`` as a 1400x1000 PNG at ``target``."""
    command = [
        chromium(), "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        f"--user-data-dir={profile}", f"--window-size={WINDOW}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        # Without these the run form was taken mid-way through its fade-in, greyed out.
        "--force-prefers-reduced-motion", "--run-all-compositor-stages-before-draw",
        f"--screenshot={target}", url,
    ]
    if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox
        command.insert(1, "--no-sandbox")
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    print(f"{target.relative_to(ROOT)}  <- {url}")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from flows.serve import free_port, start_local_server

    work = Path(tempfile.mkdtemp(prefix="newsflow-screenshots-"))
    server = start_local_server(work / "prefect", port=free_port(None))
    try:
        os.environ["PREFECT_API_URL"] = server.api_url
        from prefect.blocks.notifications import CustomWebhookNotificationBlock
        from prefect.client.orchestration import get_client

        from flows.automations import install_automations
        from flows.deployments import deployments

        served = {deployment.flow_name: deployment.apply() for deployment in deployments()}
        CustomWebhookNotificationBlock(name="newsflow", url="http://127.0.0.1:9/alert").save("newsflow-alerts")
        install_automations(notification_block="custom-webhook/newsflow-alerts", feed_alert_failures=3)
        with get_client(sync_client=True) as client:
            assert len(client.read_automations()) == 3

        IMAGES.mkdir(exist_ok=True)
        profile = work / "chromium"
        screenshot(f"{server.ui_url}/deployments/deployment/{served['ingest']}/run",
                   IMAGES / "prefect-deployment-run-form.png", profile)
        screenshot(f"{server.ui_url}/automations", IMAGES / "prefect-automations.png", profile)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
