using System.Diagnostics;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>snicctl as a user runs it: exit codes, messages that name the file and the cause, replay outputs.</summary>
public sealed class SnicctlCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Snicctl(params string[] args) => SnicctlProcess.Run(args);

    private static string Plan(string name) => SnicctlProcess.Plan(name);

    [Fact]
    public void Plans_validate_accepts_the_examples_and_lists_every_error_of_a_bad_plan()
    {
        var ok = Snicctl("plans", "validate", Plan("full.json"));
        Assert.Equal(0, ok.Code);
        Assert.Contains("valid, generation 1", ok.Out, StringComparison.Ordinal);

        string bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, File.ReadAllText(Plan("vnet-to-vnet.json"))
            .Replace("\"vni\": 100 }", "\"vni\": 99999999 }", StringComparison.Ordinal)
            .Replace("\"vnet\": \"vnet1\", \"admin_state\"", "\"vnet\": \"nope\", \"admin_state\"", StringComparison.Ordinal));
        var refused = Snicctl("plans", "validate", bad);
        Assert.Equal(1, refused.Code);
        Assert.Contains("$.vnets[0].vni", refused.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", refused.Err, StringComparison.Ordinal); // no stack trace
    }

    [Fact]
    public void Missing_files_and_bad_arguments_have_their_own_exit_codes()
    {
        var missing = Snicctl("plans", "validate", Path.Combine(_dir, "nope.json"));
        Assert.Equal(3, missing.Code);
        Assert.Contains("cannot read plan", missing.Err, StringComparison.Ordinal);

        var port = Snicctl("replay", "--plan", Plan("full.json"), "--in", "x.pcap", "--in-port", "5", "--out-dir", _dir);
        Assert.Equal(2, port.Code);
        Assert.Contains("--in-port 5 does not exist", port.Err, StringComparison.Ordinal);

        string junk = Path.Combine(_dir, "junk.pcap");
        File.WriteAllText(junk, "not a capture");
        var capture = Snicctl("replay", "--plan", Plan("full.json"), "--in", junk, "--out-dir", _dir);
        Assert.Equal(3, capture.Code);
        Assert.Contains("cannot read capture", capture.Err, StringComparison.Ordinal);

        Assert.NotEqual(0, Snicctl("replay", "--plan", Plan("full.json")).Code); // required options missing
    }

    [Fact]
    public void Replay_writes_a_capture_per_port_and_a_summary()
    {
        string input = Path.Combine(_dir, "in.pcap");
        using (PcapWriter w = PcapWriter.Create(input))
        {
            w.Write(SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50"));
            w.Write(SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50", vip: "172.16.1.99"));
        }

        var r = Snicctl("replay", "--plan", Plan("vnet-to-vnet.json"), "--in", input, "--in-port", "1", "--out-dir", _dir);
        Assert.True(r.Code == 0, r.Err);
        Assert.Single(PcapReader.ReadAll(Path.Combine(_dir, "port1.pcap")));
        Assert.Empty(PcapReader.ReadAll(Path.Combine(_dir, "port0.pcap")));
        string summary = File.ReadAllText(Path.Combine(_dir, "summary.json"));
        Assert.Contains("\"NotToVip\": 1", summary, StringComparison.Ordinal);
        Assert.Contains("\"packets_out\": 1", summary, StringComparison.Ordinal);
    }
}
