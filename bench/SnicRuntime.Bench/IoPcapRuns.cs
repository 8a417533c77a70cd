using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Bench;

/// <summary>
/// `io pcap`: capture files as ports — frames written by a port's tx queue into a capture, then
/// read back by another port's rx queue (the page cache holds the file). No peer: tcpdump and
/// tshark read captures for correctness, not as a rate to match.
/// </summary>
internal static class IoPcapRuns
{
    public static List<(string Line, string Json)> Run(int frames = 2_000_000)
    {
        var results = new List<(string, string)>();
        string dir = Directory.CreateTempSubdirectory("snic-io-pcap-").FullName;
        try
        {
            foreach (int size in new[] { 64, 1500 })
            {
                string file = Path.Combine(dir, $"f{size}.pcap");
                using var pool = new PacketPool(8192, dataRoom: 2048);
                double write, read;
                using (var tx = new PcapPort(new PortSpec(0, "tx", 1, 1024, 1024, 10), pool, null, file))
                {
                    PcapTxQueue q = tx.TxQueue();
                    var burst = new PacketRef[32];
                    var clock = Stopwatch.StartNew();
                    for (int done = 0; done < frames;)
                    {
                        int n = pool.AllocBulk(burst);
                        for (int i = 0; i < n; i++)
                        {
                            burst[i].SetLength(size);
                        }

                        int sent = q.TxBurst(burst.AsSpan(0, n));
                        pool.FreeBulk(burst.AsSpan(sent, n - sent));
                        done += sent;
                    }

                    write = frames / clock.Elapsed.TotalSeconds / 1e6;
                }

                using (var rx = new PcapPort(new PortSpec(1, "rx", 1, 1024, 1024, 10), pool, file, null))
                {
                    PcapRxQueue q = rx.RxQueue();
                    var burst = new PacketRef[32];
                    var clock = Stopwatch.StartNew();
                    long got = 0;
                    while (got < frames && clock.Elapsed.TotalSeconds < 30)
                    {
                        int n = q.RxBurst(burst);
                        got += n;
                        pool.FreeBulk(burst.AsSpan(0, n));
                    }

                    read = got / clock.Elapsed.TotalSeconds / 1e6;
                }

                string w = write.ToString("F3", CultureInfo.InvariantCulture), r = read.ToString("F3", CultureInfo.InvariantCulture);
                results.Add(($"io pcap write-{size}B mpps={w}", $"  {{\"driver\": \"pcap\", \"case\": \"write-{size}B\", \"mpps\": {w}}}"));
                results.Add(($"io pcap read-{size}B mpps={r}", $"  {{\"driver\": \"pcap\", \"case\": \"read-{size}B\", \"mpps\": {r}}}"));
                File.Delete(file);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        return results;
    }
}
