using System.Diagnostics;
using System.Text.Json;
using SnicRuntime.Tests.Contracts;
using Xunit;

namespace SnicRuntime.Tests.Hal;

/// <summary>
/// The firmware on real interfaces: in a network namespace of the test's own, two veth pairs
/// (h0 ↔ f0, h1 ↔ f1); the firmware process runs on f0 and f1 with the AF_PACKET driver
/// (cross-connect stage); scapy sends on h0 and listens on h1 — what it sent must arrive, whole
/// and in order, through the kernel, the driver and the workers.
/// </summary>
[Collection("processes")]
public sealed class AfPacketVethTests : IDisposable
{
    private readonly NetNamespace _ns = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-afp-").FullName;

    public void Dispose()
    {
        _ns.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [SkippableFact]
    public async Task Scapy_frames_cross_the_firmware_on_af_packet_ports()
    {
        Skip.If(_ns.Unavailable is not null, _ns.Unavailable);
        const string python = "/usr/bin/python3";
        Skip.If(!File.Exists(python) || Process.Start(python, "-c \"import scapy\"") is { } p && !p.WaitForExit(30_000) | p.ExitCode != 0,
            "scapy is not installed (apt-get install python3-scapy); ./test.sh installs it");
        Assert.Null(_ns.AddPair("h0", "f0"));
        Assert.Null(_ns.AddPair("h1", "f1"));

        string board = Path.Combine(_dir, "veth.json");
        File.WriteAllText(board, $$"""
            {
              "id": "veth-test", "vendor": "SnicRuntime", "model": "two veth ports in a test namespace",
              "sources": ["test fixture"],
              "cpu": { "architecture": "x86-64", "model": "host CPU", "dataplaneCores": 1 },
              "memory": { "totalMiB": 512, "packetBuffers": 4096, "bufferDataRoom": 2048, "bufferHeadroom": 128 },
              "ports": [ { "name": "p0", "speedGbps": 10 }, { "name": "p1", "speedGbps": 10 } ],
              "queues": { "rxDepth": 512, "txDepth": 512, "burst": 32 },
              "hal": { "driver": "afpacket", "args": { "interfaces": "f0,f1", "netns": "{{_ns.Name}}" } },
              "runtimeIdentifier": "linux-x64",
              "supported": ["real-io"]
            }
            """);
        string dll = Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { dll, "--board", board, "--stage", "forward", "--seconds", "12" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process firmware = Process.Start(psi)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        firmware.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        firmware.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(e.Data); } };
        firmware.BeginOutputReadLine();
        firmware.BeginErrorReadLine();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!log.Any(l => l.Contains("workers on", StringComparison.Ordinal)) && clock.Elapsed < TimeSpan.FromSeconds(30) && !firmware.HasExited)
            {
                await Task.Delay(50);
            }

            Assert.True(log.Any(l => l.Contains("workers on", StringComparison.Ordinal)), string.Join('\n', log));
            string script = Path.Combine(_dir, "cross.py");
            File.WriteAllText(script, """
                import json, time
                from scapy.all import Ether, IP, UDP, Raw, AsyncSniffer, sendp, conf
                conf.verb = 0
                frames = [Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02') / IP(src='10.9.0.1', dst='10.9.0.2') /
                          UDP(sport=40000 + i, dport=7777) / Raw(b'snic-%03d' % i + bytes(range(i % 50))) for i in range(60)]
                sniffer = AsyncSniffer(iface='h1', lfilter=lambda p: UDP in p and p[UDP].dport == 7777, count=len(frames), timeout=8)
                sniffer.start()
                time.sleep(0.5)
                sendp(frames, iface='h0', inter=0.002)
                sniffer.join()
                got = sniffer.results or []
                print(json.dumps({'sent': [bytes(f).hex() for f in frames], 'got': [bytes(p).hex() for p in got]}))
                """);
            var run = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { "netns", "exec", _ns.Name, python, script })
            {
                run.ArgumentList.Add(a);
            }

            using Process scapy = Process.Start(run)!;
            Task<string> err = scapy.StandardError.ReadToEndAsync();
            string output = await scapy.StandardOutput.ReadToEndAsync();
            Assert.True(scapy.WaitForExit(60_000));
            Assert.True(scapy.ExitCode == 0, await err);
            JsonElement result = JsonDocument.Parse(output).RootElement;
            string[] sent = [.. result.GetProperty("sent").EnumerateArray().Select(x => x.GetString()!)];
            string[] got = [.. result.GetProperty("got").EnumerateArray().Select(x => x.GetString()!)];
            Assert.True(got.Length == sent.Length, $"{got.Length} of {sent.Length} frames crossed; firmware log:\n{string.Join('\n', log)}");
            Assert.Equal(sent, got); // whole and in order
        }
        finally
        {
            if (!firmware.HasExited)
            {
                firmware.Kill();
            }

            await firmware.WaitForExitAsync();
        }
    }
}
