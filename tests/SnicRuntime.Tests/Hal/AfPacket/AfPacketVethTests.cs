using SnicRuntime.TestKit;
using System.Diagnostics;
using System.Text.Json;
using SnicRuntime.Tests.Hal.Core;
using Xunit;

namespace SnicRuntime.Tests.Hal.AfPacket;

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

    private const string Python = "/usr/bin/python3";

    private void RequireNamespaceAndScapy()
    {
        Skip.If(_ns.Unavailable is not null, _ns.Unavailable);
        Skip.If(!File.Exists(Python) || Process.Start(Python, "-c \"import scapy\"") is { } p && !p.WaitForExit(30_000) | p.ExitCode != 0,
            "scapy is not installed (apt-get install python3-scapy); ./test.sh installs it");
        Assert.Null(_ns.AddPair("h0", "f0"));
        Assert.Null(_ns.AddPair("h1", "f1"));
    }

    [SkippableFact]
    public async Task Scapy_frames_cross_the_firmware_on_af_packet_ports()
    {
        RequireNamespaceAndScapy();
        await using Firmware firmware = await Firmware.Start(WriteBoard(), _dir, "--stage", "forward");
        string script = Path.Combine(_dir, "cross.py");
        File.WriteAllText(script, CrossScript);
        (int code, string output, string err) = await InNamespace(Python, script);
        Assert.True(code == 0, err);
        JsonElement result = JsonDocument.Parse(output).RootElement;
        string[] sent = [.. result.GetProperty("sent").EnumerateArray().Select(x => x.GetString()!)];
        string[] got = [.. result.GetProperty("got").EnumerateArray().Select(x => x.GetString()!)];
        Assert.True(got.Length == sent.Length, $"{got.Length} of {sent.Length} frames crossed; firmware log:\n{firmware.Log}");
        Assert.Equal(sent, got); // whole and in order
    }

    [SkippableFact]
    public async Task The_vnet_to_vnet_pipeline_on_af_packet_ports_answers_scapy_as_DASH_expects()
    {
        RequireNamespaceAndScapy();
        await using Firmware firmware = await Firmware.Start(WriteBoard(), _dir, "--plan", TestPaths.Plan("vnet-to-vnet.json"));
        // The uplink is f0: VXLAN from the host to the VIP goes in there and comes back re-encapsulated.
        (int code, string output, string err) = await InNamespace(Python, Path.Combine(TestPaths.RepoRoot, "tests", "pipeline", "vnet_to_vnet.py"), "live", "h0", _dir);
        Assert.True(code == 0, $"{output}\n{err}\nfirmware log:\n{firmware.Log}");
        Assert.Contains("ok:", output, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Output, string Err)> InNamespace(params string[] command)
    {
        var run = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "netns", "exec", _ns.Name }.Concat(command))
        {
            run.ArgumentList.Add(a);
        }

        using Process p = Process.Start(run)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000));
        return (p.ExitCode, output, await err);
    }

    private const string CrossScript = """
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
        """;

    private string WriteBoard()
    {
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
              "supported": ["afpacket", "multi-queue"]
            }
            """);
        return board;
    }

    /// <summary>The firmware process on the veth board, started and waited for; killed on dispose.</summary>
    private sealed class Firmware : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _log = new();

        private Firmware(ProcessStartInfo psi) => _process = LoggedProcess.Start(psi, _log);

        public string Log => string.Join('\n', _log);

        public static async Task<Firmware> Start(string board, string dir, params string[] args)
        {
            string dll = Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
            foreach (string a in new[] { dll, "--board", board, "--seconds", "20" }.Concat(args))
            {
                psi.ArgumentList.Add(a);
            }

            var f = new Firmware(psi);
            var clock = Stopwatch.StartNew();
            while (!f._log.Any(l => l.Contains("workers on", StringComparison.Ordinal)) && clock.Elapsed < TimeSpan.FromSeconds(30) && !f._process.HasExited)
            {
                await Task.Delay(50);
            }

            Assert.True(f._log.Any(l => l.Contains("workers on", StringComparison.Ordinal)), f.Log);
            return f;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
