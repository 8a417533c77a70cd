using SnicRuntime.Firmware;
using SnicRuntime.TestKit;
using System.Text.Json;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal.Pcap;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Parsing;

/// <summary>
/// The parser against frames scapy made (tests/captures/make_captures.py): what it must report for
/// each valid frame, the exact drop reason of each malformed one, and a drop for every truncation.
/// </summary>
public class CaptureParserTests
{
    private static readonly List<PcapRecord> s_valid = PcapReader.ReadAll(TestPaths.Captures("parser-valid.pcap"));
    private static readonly List<PcapRecord> s_malformed = PcapReader.ReadAll(TestPaths.Captures("parser-malformed.pcap"));
    private static readonly JsonDocument s_expected = JsonDocument.Parse(File.ReadAllText(TestPaths.Captures("parser-expected.json")));

    public static IEnumerable<object[]> ValidNames() =>
        s_expected.RootElement.GetProperty("valid").EnumerateArray().Select((e, i) => new object[] { i, e.GetProperty("name").GetString()! });

    public static IEnumerable<object[]> MalformedNames() =>
        s_expected.RootElement.GetProperty("malformed").EnumerateArray().Select((e, i) => new object[] { i, e.GetProperty("name").GetString()! });

    [Fact]
    public void Captures_and_expectations_line_up()
    {
        Assert.Equal(s_expected.RootElement.GetProperty("valid").GetArrayLength(), s_valid.Count);
        Assert.Equal(s_expected.RootElement.GetProperty("malformed").GetArrayLength(), s_malformed.Count);
        Assert.True(s_valid.Count >= 20 && s_malformed.Count >= 30);
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Valid_frame_parses_as_scapy_built_it(int index, string name)
    {
        JsonElement e = s_expected.RootElement.GetProperty("valid")[index];
        byte[] frame = s_valid[index].Data;
        DropReason r = PacketParser.Parse(frame, out ParsedPacket p);
        Assert.True(r == DropReason.None, $"{name}: dropped for {r}");

        bool tunneled = e.TryGetProperty("tunnel", out JsonElement tunnel);
        if (tunneled)
        {
            Assert.Equal(tunnel.GetString(), p.Tunnel.ToString());
            Assert.Equal(Int(e, "outerL3"), p.OuterL3);
            Expect(e, "outerL4", p.OuterL4);
            Expect(e, "vni", (int)p.Vni);
            Expect(e, "innerL2", p.InnerL2);
            Assert.Equal(Int(e, "innerL3"), p.InnerL3);
            Assert.Equal(Int(e, "innerL4"), p.InnerL4);
        }
        else
        {
            Assert.Equal(TunnelKind.None, p.Tunnel);
            Expect(e, "l3", p.OuterL3);
            Expect(e, "l4", p.OuterL4);
        }

        bool hasL4 = !e.TryGetProperty("noL4", out _);
        Assert.Equal(hasL4, p.HasL4);
        Expect(e, "proto", p.L4Protocol);
        Expect(e, "sport", p.SrcPort);
        Expect(e, "dport", p.DstPort);
        Expect(e, "tcpFlags", p.TcpFlags);
        Expect(e, "vlan", p.OuterVlan);
        Expect(e, "vlan2", p.OuterInnerVlan);
        Expect(e, "l3End", p.L3End);
        if (!e.TryGetProperty("padded", out _) && !e.TryGetProperty("noIp", out _))
        {
            Assert.Equal(frame.Length, p.L3End);
        }

        if (e.TryGetProperty("flags", out JsonElement flags))
        {
            foreach (JsonElement f in flags.EnumerateArray())
            {
                PacketFlags flag = Enum.Parse<PacketFlags>(f.GetString()!);
                Assert.True((p.Flags & flag) == flag, $"{name}: flag {flag} not set in {p.Flags}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(MalformedNames))]
    public void Malformed_frame_is_dropped_for_its_reason(int index, string name)
    {
        string reason = s_expected.RootElement.GetProperty("malformed")[index].GetProperty("drop").GetString()!;
        DropReason r = PacketParser.Parse(s_malformed[index].Data, out _);
        Assert.True(reason == r.ToString(), $"{name}: expected {reason}, got {r}");
    }

    [Fact]
    public void Every_truncation_of_every_valid_frame_is_dropped_not_misread()
    {
        var s = s_expected.RootElement.GetProperty("valid");
        int checkedPrefixes = 0;
        for (int i = 0; i < s_valid.Count; i++)
        {
            if (s[i].TryGetProperty("padded", out _))
            {
                continue; // cutting padding off is legal
            }

            byte[] frame = s_valid[i].Data;
            for (int len = 0; len < frame.Length; len++)
            {
                // A fresh array of exactly len bytes: any read past it would throw.
                byte[] prefix = frame.AsSpan(0, len).ToArray();
                DropReason r = PacketParser.Parse(prefix, out ParsedPacket p);
                Assert.True(r != DropReason.None, $"{s[i].GetProperty("name")}: prefix of {len}/{frame.Length} bytes was accepted (L3End {p.L3End})");
                checkedPrefixes++;
            }
        }

        Assert.True(checkedPrefixes > 1000);
    }

    private static int? Int(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.GetInt32() : null;

    private static void Expect(JsonElement e, string name, int actual)
    {
        if (e.TryGetProperty(name, out JsonElement v))
        {
            Assert.True(v.GetInt32() == actual, $"{e.GetProperty("name")}: {name} expected {v.GetInt32()}, got {actual}");
        }
    }
}
