using SnicRuntime.Firmware.Card;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SnicRuntime.Firmware.Workers;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// The firmware on real ports (AF_PACKET, ...): no generator, the wire brings the traffic. Runs the
/// workers for the given time, logging rates each second, then the ports' and workers' counters
/// and drops by reason.
/// </summary>
internal static class PortRun
{
    public static bool Run(Dataplane dataplane, double seconds, ILogger log)
    {
        log.LogInformation("board {Board}: {Workers} workers on {Ports} ({Driver})", dataplane.Board.Id, dataplane.Workers.Count,
            string.Join(", ", dataplane.Ports.Select(p => $"{p.Name} link {(p.LinkUp ? "up" : "down")}")), dataplane.Board.Hal.Driver);
        dataplane.Start();
        var clock = Stopwatch.StartNew();
        WorkerSnapshot last = dataplane.TotalCounters();
        while (clock.Elapsed.TotalSeconds < seconds && !FirmwareLifetime.Stopping.IsCancellationRequested)
        {
            FirmwareLifetime.Stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(Math.Min(1, Math.Max(0.01, seconds - clock.Elapsed.TotalSeconds))));
            WorkerSnapshot now = dataplane.TotalCounters();
            log.LogInformation("t={T:F0}s rx {Rx} tx {Tx} drops {Drops}", clock.Elapsed.TotalSeconds, now.RxPackets - last.RxPackets, now.TxPackets - last.TxPackets,
                now.Drops - last.Drops);
            last = now;
        }

        if (!dataplane.Stop(TimeSpan.FromSeconds(5)))
        {
            log.LogError("a worker did not stop within 5 s");
            return false;
        }

        WorkerSnapshot total = dataplane.TotalCounters();
        log.LogInformation("workers rx {Rx} tx {Tx} dropped {Drops}", total.RxPackets, total.TxPackets, total.Drops);
        foreach (Hal.IPort p in dataplane.Ports)
        {
            Hal.PortCounters c = p.ReadCounters();
            log.LogInformation("port {Port}: rx {Rx} ({RxBytes} B) tx {Tx} ({TxBytes} B) link-down {LinkDown} full {Full}", p.Name, c.RxPackets, c.RxBytes,
                c.TxPackets, c.TxBytes, c.TxLinkDownDrops, c.TxRingFullDrops);
        }

        foreach ((DropReason reason, long count) in dataplane.DropsByReason())
        {
            log.LogInformation("  dropped {Count} for {Reason}", count, reason);
        }

        return true;
    }
}
