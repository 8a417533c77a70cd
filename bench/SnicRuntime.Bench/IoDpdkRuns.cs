using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Dpdk;

namespace SnicRuntime.Bench;

/// <summary>
/// `io dpdk`: packets per second our DPDK driver receives from a memif link whose other end is
/// dpdk-testpmd in txonly mode, beside testpmd's own rxonly figure on the same link (the peer),
/// 64-byte and 1500-byte frames. Producer and consumers share this machine's two cores.
/// </summary>
internal static class IoDpdkRuns
{
    public static List<(string Line, string Json)> Run(double seconds)
    {
        var results = new List<(string, string)>();
        if (!File.Exists("/usr/bin/dpdk-testpmd"))
        {
            Console.Error.WriteLine("io dpdk: skipped: dpdk-testpmd is not installed (Debian: dpdk-dev)");
            return results;
        }

        string dir = Directory.CreateTempSubdirectory("snic-io-dpdk-").FullName;
        int[] sizes = [64, 1500];
        try
        {
            string eal = "--no-huge --no-pci --no-shconf --no-telemetry -m 512 -l 0 --log-level=pmd.net.memif:error " +
                string.Join(' ', sizes.Select((s, i) => $"--vdev=net_memif{i},role=client,socket={dir}/m{i}.sock"));
            DpdkEal.Init(eal);
            for (int i = 0; i < sizes.Length; i++)
            {
                string socket = $"{dir}/m{i}.sock";
                using TestPmd producer = Peer($"tx{i}", socket, "server", "txonly", sizes[i]);
                Thread.Sleep(2000);
                double ours = Ours(i, seconds);
                double peer = Peer(socket, seconds, i);
                producer.Stop();
                string name = $"memif-{sizes[i]}B";
                string o = ours.ToString("F3", CultureInfo.InvariantCulture);
                string p = peer.ToString("F3", CultureInfo.InvariantCulture);
                results.Add(($"io dpdk {name} mpps={o} peer_mpps={p}", $"  {{\"driver\": \"dpdk\", \"case\": \"{name}\", \"mpps\": {o}, \"peer_mpps\": {p}, \"peer\": \"dpdk-testpmd rxonly\"}}"));
            }
        }
        catch (DpdkException e)
        {
            Console.Error.WriteLine($"io dpdk: skipped: {e.Message}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        return results;
    }

    private static double Ours(int device, double seconds)
    {
        using PacketPool pool = DpdkPool.Create(16384, dataRoom: 2048);
        using DpdkPort port = DpdkPort.Open(new PortSpec(0, "rx", 1, 1024, 1024, 10), pool, $"net_memif{device}", 32);
        DpdkRxQueue rx = port.RxQueue(0);
        var burst = new PacketRef[32];
        SpinWait.SpinUntil(() => port.LinkUp, 10_000);
        var clock = Stopwatch.StartNew();
        long received = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            int n = rx.RxBurst(burst);
            received += n;
            pool.FreeBulk(burst.AsSpan(0, n));
        }

        return received / clock.Elapsed.TotalSeconds / 1e6;
    }

    private static double Peer(string socket, double seconds, int run)
    {
        using TestPmd rx = Peer($"rx{run}", socket, "client", "rxonly", 64);
        Thread.Sleep((int)(seconds * 1000) + 2000); // its link check, then the measured time
        return TestPmd.MedianRxMpps(rx.Stop()); // testpmd's own per-second rate (--stats-period 1)
    }

    /// <summary>testpmd with its forwarding lcore on CPU 1 (the producer) or CPU 0 (the consumer), so the two never share a core.</summary>
    private static TestPmd Peer(string prefix, string socket, string role, string mode, int size) =>
        new(["--no-huge", "--no-pci", "-m", "1024", "-l", "0-1", "--main-lcore", mode == "txonly" ? "0" : "1",
                "--file-prefix", $"snic-io-{prefix}-{Environment.ProcessId}", $"--vdev=net_memif0,role={role},socket={socket}"],
            [$"--forward-mode={mode}", "--no-mlockall", "--total-num-mbufs=16384", $"--txpkts={size}", "--stats-period", "1"]);
}
