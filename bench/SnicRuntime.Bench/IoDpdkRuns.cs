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
                using Process producer = TestPmd($"tx{i}", socket, "server", "txonly", sizes[i]);
                Thread.Sleep(2000);
                double ours = Ours(i, seconds);
                double peer = Peer(socket, seconds, i);
                Stop(producer);
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
        using var pool = new PacketPool(16384, dataRoom: 2048);
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
        using Process rx = TestPmd($"rx{run}", socket, "client", "rxonly", 64);
        Thread.Sleep((int)(seconds * 1000) + 2000); // its link check, then the measured time
        List<string> output = Stop(rx);
        // testpmd's own rate, printed each second (--stats-period 1): the median of the readings
        // after the first (which spans its start).
        var rates = output.Where(l => l.TrimStart().StartsWith("Rx-pps:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], CultureInfo.InvariantCulture))
            .Skip(1).Order().ToList();
        return rates.Count == 0 ? 0 : rates[rates.Count / 2] / 1e6;
    }

    private static readonly Dictionary<Process, List<string>> s_output = [];

    /// <summary>testpmd with its forwarding lcore on CPU 1 (the producer) or CPU 0 (the consumer), so the two never share a core.</summary>
    private static Process TestPmd(string prefix, string socket, string role, string mode, int size)
    {
        string mainCore = mode == "txonly" ? "0" : "1";
        var psi = new ProcessStartInfo("/usr/bin/stdbuf", ["-oL", "/usr/bin/dpdk-testpmd", "--no-huge", "--no-pci", "-m", "1024", "-l", "0-1", "--main-lcore", mainCore,
            "--file-prefix", $"snic-io-{prefix}-{Environment.ProcessId}", $"--vdev=net_memif0,role={role},socket={socket}", "--",
            $"--forward-mode={mode}", "--no-mlockall", "--total-num-mbufs=16384", $"--txpkts={size}", "--stats-period", "1"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        Process p = Process.Start(psi)!;
        var lines = new List<string>();
        s_output[p] = lines;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (lines) { lines.Add(e.Data); } } };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static List<string> Stop(Process p)
    {
        try
        {
            _ = Kill(p.Id, 2); // SIGINT: testpmd stops forwarding, prints its statistics and closes its ports
            if (!p.WaitForExit(20_000))
            {
                p.Kill();
            }

            p.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }

        List<string> lines = s_output[p];
        lock (lines)
        {
            return [.. lines];
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
