using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Hal;
using SnicRuntime.Hal.AfPacket;

namespace SnicRuntime.Bench;

/// <summary>
/// <c>./bench/run.sh io</c>: packets per second through each real driver in a loopback setup.
/// AF_PACKET: a veth pair in a namespace of the benchmark's own; one thread transmits bursts on
/// one end, another receives on the other end; the figure is what arrived, per second.
/// </summary>
internal static class IoRuns
{
    public static int Run(string[] args)
    {
        string? json = args.SkipWhile(a => a != "--json").Skip(1).FirstOrDefault();
        double seconds = double.Parse(args.SkipWhile(a => a != "--seconds").Skip(1).FirstOrDefault() ?? "3", CultureInfo.InvariantCulture);
        // --only afpacket,pcap,dpdk,vhost: a subset of the drivers (all by default).
        string[] only = (args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "afpacket,pcap,dpdk,vhost").Split(',');
        string ns = $"snic-io{Environment.ProcessId}";
        if ((Sh($"ip netns add {ns}") ?? Sh($"ip -n {ns} link add io0 type veth peer name io1")) is string why)
        {
            Console.Error.WriteLine($"io: cannot make a network namespace with a veth pair (needs root and iproute2): {why}");
            return 2;
        }

        try
        {
            Sh($"ip netns exec {ns} sysctl -qw net.ipv6.conf.io0.disable_ipv6=1 net.ipv6.conf.io1.disable_ipv6=1");
            Sh($"ip -n {ns} link set io0 up");
            Sh($"ip -n {ns} link set io1 up");
            Thread.Sleep(1500); // the link watcher brings the pair up
            var lines = new List<string>();
            var figures = new List<string>();
            foreach (int size in only.Contains("afpacket") ? [64, 1500] : Array.Empty<int>())
            {
                double mpps = AfPacket(ns, size, seconds, peer: false);
                double peer = File.Exists("/usr/bin/dpdk-testpmd") ? AfPacket(ns, size, seconds, peer: true) : double.NaN;
                string name = $"veth-{size}B";
                string o = mpps.ToString("F3", CultureInfo.InvariantCulture);
                string p = double.IsNaN(peer) ? "" : peer.ToString("F3", CultureInfo.InvariantCulture);
                lines.Add($"io afpacket {name} mpps={o}" + (p.Length > 0 ? $" peer_mpps={p}" : ""));
                figures.Add($"  {{\"driver\": \"afpacket\", \"case\": \"{name}\", \"mpps\": {o}" +
                    (p.Length > 0 ? $", \"peer_mpps\": {p}, \"peer\": \"dpdk-testpmd rxonly on net_af_packet\"" : "") + "}");
            }

            var others = (only.Contains("pcap") ? IoPcapRuns.Run() : []).Concat(only.Contains("dpdk") ? IoDpdkRuns.Run(seconds) : [])
                .Concat(only.Contains("vhost") ? IoVhostRuns.Run(seconds) : []);
            foreach ((string line, string figure) in others)
            {
                lines.Add(line);
                figures.Add(figure);
            }

            lines.ForEach(Console.WriteLine);
            if (json is not null)
            {
                File.WriteAllText(json, "[\n" + string.Join(",\n", figures) + "\n]\n");
            }

            return 0;
        }
        finally
        {
            Sh($"ip netns del {ns}");
        }
    }

    /// <summary>
    /// Our transmit thread feeds io0; on io1 either our receive queue (through its TPACKET_V3 ring)
    /// or the peer, dpdk-testpmd rxonly on DPDK's net_af_packet PMD (its own mapped rings), counts
    /// what arrives: the same producer for both, so the figures compare the receivers.
    /// </summary>
    private static double AfPacket(string ns, int size, double seconds, bool peer)
    {
        using var pool = new PacketPool(8192, dataRoom: 2048);
        using AfPacketPort tx = AfPacketPort.Open(new PortSpec(0, "tx", 1, 1024, 1024, 10), pool, "io0", ns);
        if (peer)
        {
            using var testpmd = new TestPmd(["--no-huge", "--no-pci", "-m", "1024", "-l", "0-1", "--main-lcore", "1",
                    "--file-prefix", $"snic-io-afp-{Environment.ProcessId}", "--vdev=net_af_packet0,iface=io1"],
                ["--forward-mode=rxonly", "--no-mlockall", "--total-num-mbufs=16384", "--stats-period", "1"], ns);
            Thread.Sleep(2000); // EAL and port start
            Transmit(tx.TxQueue(0), pool, size, seconds + 2, () => 0);
            return TestPmd.MedianRxMpps(testpmd.Stop());
        }

        using AfPacketPort rx = AfPacketPort.Open(new PortSpec(1, "rx", 1, 1024, 1024, 10), pool, "io1", ns);
        AfPacketRxQueue rxq = rx.RxQueue(0);
        long received = 0;
        using var stop = new CancellationTokenSource();
        var receiver = new Thread(() =>
        {
            var burst = new PacketRef[64];
            while (!stop.IsCancellationRequested)
            {
                int n = rxq.RxBurst(burst);
                if (n == 0)
                {
                    Thread.Yield();
                    continue;
                }

                received += n;
                pool.FreeBulk(burst.AsSpan(0, n));
            }
        }) { IsBackground = true };
        receiver.Start();
        double mpps = Transmit(tx.TxQueue(0), pool, size, seconds, () => Volatile.Read(ref received));
        stop.Cancel();
        receiver.Join();
        return mpps;
    }

    /// <summary>Sends bursts for half a second of warm-up plus <paramref name="seconds"/>; returns what <paramref name="received"/> grew by, per second.</summary>
    private static double Transmit(AfPacketTxQueue txq, PacketPool pool, int size, double seconds, Func<long> received)
    {
        var frames = new PacketRef[32];
        var clock = Stopwatch.StartNew();
        long start = 0;
        bool measuring = false;
        double warm = 0.5;
        while (clock.Elapsed.TotalSeconds < seconds + warm)
        {
            if (!measuring && clock.Elapsed.TotalSeconds >= warm)
            {
                measuring = true;
                start = received();
                clock.Restart();
                warm = 0;
            }

            int n = pool.AllocBulk(frames);
            for (int i = 0; i < n; i++)
            {
                frames[i].SetLength(size);
                Span<byte> d = frames[i].Data;
                d[..12].Fill(0x02);
                d[12] = 0x88;
                d[13] = 0xB5; // local experimental EtherType: nothing in the kernel answers it
            }

            int sent = txq.TxBurst(frames.AsSpan(0, n));
            pool.FreeBulk(frames.AsSpan(sent, n - sent));
        }

        return (received() - start) / clock.Elapsed.TotalSeconds / 1e6;
    }

    private static string? Sh(string command)
    {
        string[] parts = command.Split(' ', 2);
        using Process p = Process.Start(new ProcessStartInfo(parts[0], parts[1]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit(10_000);
        return p.ExitCode == 0 ? null : err;
    }
}
