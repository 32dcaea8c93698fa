"""The seed's Phase 10 snippets, run as written (in a fresh interpreter, tmp home)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Names the seed's snippets use without defining them.
PRELUDE = """
import json, time
t1, t2 = time.time() - 60, time.time()
def get_status():
    return {"status": "healthy", "uptime": 42}
def get_data():
    return 7
"""

WIDGETS = """
from ipfs_kit_py.dashboard_widgets import WidgetManager, WidgetConfig

manager = WidgetManager()

# Create status widget
config = WidgetConfig(
    widget_id='status1',
    widget_type='status',
    title='System Status',
    refresh_interval=30
)
widget = manager.create_widget(config, status_provider=get_status)

# Get widget data
data = manager.get_widget_data('status1')

# Get all widgets
all_data = manager.get_all_widget_data()
"""

CHARTS = """
from ipfs_kit_py.dashboard_charts import ChartGenerator, ChartConfig

generator = ChartGenerator()

# Generate line chart
config = ChartConfig(
    chart_id='cpu_chart',
    chart_type='line',
    title='CPU Usage'
)
data = {'server1': [(t1, 25.0), (t2, 30.0)]}
chart = generator.generate_line_chart(config, data)

# Export to JSON
json_data = generator.export_to_json(chart)
"""

WIZARDS = """
from ipfs_kit_py.config_wizards import WizardManager

manager = WizardManager()

# Run backend setup wizard
wizard = manager.create_wizard('backend_setup')
config = wizard.run()

# Or with template
wizard.load_template('s3_production')
config = wizard.run()
"""

QUICK_START = """
from ipfs_kit_py.dashboard_widgets import WidgetManager
manager = WidgetManager()
widget = manager.create_widget(config, data_provider=get_data)
"""


def run_snippet(home, code: str, epilogue: str) -> dict:
    env = {**os.environ, "IPFS_KIT_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code) + epilogue],
                          capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_widgets_snippet(home):
    out = run_snippet(home, WIDGETS, "\nprint(json.dumps({'data': data, 'ids': list(all_data)}))")
    assert out["ids"] == ["status1"]
    assert out["data"]["data"] == {"status": "ok", "message": None, "items": {"uptime": 42}}
    assert out["data"]["title"] == "System Status" and out["data"]["refresh_interval"] == 30


def test_charts_snippet(home):
    out = run_snippet(home, CHARTS, "\nprint(json.dumps({'doc': json.loads(json_data), 't1': t1, 't2': t2}))")
    doc = out["doc"]
    assert doc["chart_id"] == "cpu_chart" and doc["type"] == "line" and doc["title"] == "CPU Usage"
    assert doc["datasets"] == [{"label": "server1", "data": [{"x": out["t1"], "y": 25.0}, {"x": out["t2"], "y": 30.0}]}]


def test_wizards_snippet_without_terminal_uses_defaults_then_template(home):
    out = run_snippet(home, WIZARDS, "\nprint(json.dumps(config))")
    assert out["applied"] is True and out["template"] == "s3_production"
    saved = json.loads((home / "config.json").read_text())
    assert set(saved["backends"]) == {"local", "s3"}
    assert saved["backends"]["s3"]["bucket"] == "ipfs-kit-production"
    assert saved["replication"] == {"replicas": 2, "targets": ["s3"]}


def test_quick_start_snippet_with_data_provider(home):
    code = ("from ipfs_kit_py.dashboard_widgets import WidgetConfig\n"
            "config = WidgetConfig('ops', 'counter', 'Operations', 5)\n" + QUICK_START)
    out = run_snippet(home, code, "\nprint(json.dumps(manager.get_widget_data('ops')))")
    assert out["data"]["counters"] == {"Operations": 7}
