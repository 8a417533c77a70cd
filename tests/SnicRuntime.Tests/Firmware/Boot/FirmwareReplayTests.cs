using SnicRuntime.Firmware.Boot;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Boot;

/// <summary><c>snic-firmware replay</c>, which <c>snicctl replay</c> runs: its errors and exit codes, and a replay.</summary>
[Collection("console")]
public sealed class FirmwareReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-fw-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Plan(string name) => Path.Combine(AppContext.BaseDirectory, "plans", name);

    [Fact]
    public void Bad_arguments_and_inputs_have_snicctls_exit_codes()
    {
        Assert.Equal(2, Program.Main(["replay", "--plan", Plan("full.json")]));
        Assert.Equal(2, Program.Main(["replay", "--plan", Plan("full.json"), "--in", "x.pcap", "--out-dir", _dir, "--in-port", "2"]));
        Assert.Equal(2, Program.Main(["replay", "--plan", Plan("full.json"), "--in", "x.pcap", "--out-dir", _dir, "--bogus", "1"]));
        Assert.Equal(3, Program.Main(["replay", "--plan", Path.Combine(_dir, "none.json"), "--in", "x.pcap", "--out-dir", _dir]));
        string bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "{ \"generation\": 0 }");
        Assert.Equal(1, Program.Main(["replay", "--plan", bad, "--in", "x.pcap", "--out-dir", _dir]));
        Assert.Equal(3, Program.Main(["replay", "--plan", Plan("full.json"), "--in", Path.Combine(_dir, "none.pcap"), "--out-dir", _dir]));
    }

    [Fact]
    public void A_capture_goes_through_the_pipeline_and_each_port_gets_its_capture()
    {
        string input = Path.Combine(_dir, "in.pcap");
        using (PcapWriter w = PcapWriter.Create(input))
        {
            w.Write(SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50"));
            w.Write(SnicRuntime.Tests.Firmware.Pipeline.Overlay.FromVm("10.1.2.50", vip: "172.16.1.99"));
        }

        Assert.Equal(0, Program.Main(["replay", "--plan", Plan("vnet-to-vnet.json"), "--in", input, "--in-port", "1", "--out-dir", _dir]));
        Assert.Single(PcapReader.ReadAll(Path.Combine(_dir, "port1.pcap")));
        Assert.Contains("\"NotToVip\": 1", File.ReadAllText(Path.Combine(_dir, "summary.json")), StringComparison.Ordinal);
    }
}
