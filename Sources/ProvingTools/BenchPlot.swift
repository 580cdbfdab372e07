import Foundation

/// The PNG of `fleet bench`: throughput and lag over time, drawn by Python's matplotlib (there is
/// no plotting library for Swift here). scripts/install-deps.sh installs matplotlib from PyPI.
enum BenchPlot {
    static let script = #"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

result = json.load(open(sys.argv[1]))
relay = result.get("relay") or {}
fleet = result.get("fleet") or {}
panels = 3 if relay.get("timeline") else 2
fig, axes = plt.subplots(panels, 1, figsize=(10, 3.2 * panels), constrained_layout=True)
i = 0
title = f"fleet bench: {result['applications']} applications, {result['averageBytes']} B each, {result['partitions']} partitions"
if result.get("rate"):
    title += f", paced at {int(result['rate'])}/s"
fig.suptitle(title)
if panels == 3:
    ax = axes[i]; i += 1
    t = [s["t"] for s in relay["timeline"]]
    ax.plot(t, [s["rate"] for s in relay["timeline"]], label="Swift relay output (4th hop) msgs/s", color="tab:gray")
    c_relay = result.get("cRelay") or {}
    if c_relay.get("timeline"):
        ax.plot([s["t"] for s in c_relay["timeline"]], [s["rate"] for s in c_relay["timeline"]],
                label="C relay output (4th hop) msgs/s", color="black", linestyle="--")
    rate = relay.get("rate")
    c_rate = c_relay.get("rate")
    ax.set_title((f"(a) Swift 4-hop relay: {rate:,.0f} msgs/s end to end" if rate else "(a) raw relay")
                 + (f"; (c) C relay: {c_rate:,.0f} msgs/s" if c_rate else ""))
    ax.set_xlabel("seconds"); ax.set_ylabel("msgs/s"); ax.legend(loc="lower right"); ax.grid(alpha=0.3)
tl = fleet.get("timeline", [])
t = [s["t"] for s in tl]
ax = axes[i]; i += 1
ax.plot(t, [s["submittedRate"] for s in tl], label="submitted/s")
ax.plot(t, [s["routedRate"] for s in tl], label="routed/s")
ax.plot(t, [s["ordersRate"] for s in tl], label="card orders/s")
rate = fleet.get("rate")
ratio = result.get("ratio")
ratio_c = result.get("ratioToC")
ax.set_title("(b) fleet throughput" + (f": {rate:,.0f} applications/s" if rate else "") + (f", ratio b/a {ratio:.2f}" if ratio else "")
             + (f", b/c {ratio_c:.2f}" if ratio_c else ""))
ax.set_xlabel("seconds"); ax.set_ylabel("applications/s"); ax.legend(loc="lower right"); ax.grid(alpha=0.3)
ax = axes[i]
for worker in ["intake", "identity", "routing", "production"]:
    ax.plot(t, [s["lag"].get(worker, 0) for s in tl], label=f"{worker} lag")
lr = fleet.get("latencyRouted") or {}
lo = fleet.get("latencyOrder") or {}
def ms(v):
    return "-" if v is None else f"{v:.0f}"
ax.set_title(f"consumer lag (messages); latency to routed p50/p99 {ms(lr.get('p50'))}/{ms(lr.get('p99'))} ms, to order {ms(lo.get('p50'))}/{ms(lo.get('p99'))} ms")
ax.set_xlabel("seconds"); ax.set_ylabel("messages behind"); ax.legend(loc="upper right"); ax.grid(alpha=0.3)
fig.savefig(sys.argv[2], dpi=100)
"""#

    enum PlotError: Error, CustomStringConvertible {
        case failed(String)
        var description: String { if case .failed(let text) = self { return text }; return "" }
    }

    static func render(json: URL, png: URL, directory: URL) -> Result<Void, PlotError> {
        let scriptURL = directory.appendingPathComponent("bench-plot.py")
        do {
            try Data(script.utf8).write(to: scriptURL)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", scriptURL.path, json.path, png.path]
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let text = String(decoding: output, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " / ")
                return .failure(.failed("python3 matplotlib failed (\(process.terminationStatus)): \(text); run scripts/install-deps.sh"))
            }
            return .success(())
        } catch {
            return .failure(.failed("\(error)"))
        }
    }
}
