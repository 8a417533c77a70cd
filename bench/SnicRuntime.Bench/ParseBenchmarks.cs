using BenchmarkDotNet.Attributes;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Bench;

/// <summary>Parser cost per packet over a burst of 32 (the worker's phase 1).</summary>
public class ParseBenchmarks
{
    private const int Burst = 32;
    private byte[][] _ipv4Tcp = [];
    private byte[][] _vxlanInnerIpv6 = [];

    [GlobalSetup]
    public void Setup()
    {
        _ipv4Tcp = Enumerable.Range(0, Burst).Select(i => Frames.Ipv4Tcp(i)).ToArray();
        _vxlanInnerIpv6 = Enumerable.Range(0, Burst).Select(i => Frames.VxlanInnerIpv6(i)).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public uint Ipv4Tcp() => ParseAll(_ipv4Tcp);

    [Benchmark(OperationsPerInvoke = Burst)]
    public uint VxlanIpv4InnerIpv6Udp() => ParseAll(_vxlanInnerIpv6);

    private static uint ParseAll(byte[][] frames)
    {
        uint acc = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            PacketParser.Parse(frames[i], out ParsedPacket p);
            acc += p.FlowHash;
        }

        return acc;
    }
}

/// <summary>Frames for benchmarks, built with the same header writers the generator uses.</summary>
internal static class Frames
{
    private static readonly byte[] s_macA = [2, 0, 0, 0, 0, 1];
    private static readonly byte[] s_macB = [2, 0, 0, 0, 0, 2];

    public static byte[] Ipv4Tcp(int i)
    {
        byte[] f = new byte[14 + 20 + 20 + 10];
        HeaderWriter.Ethernet(f, s_macB, s_macA, EtherTypes.Ipv4);
        HeaderWriter.Ipv4(f.AsSpan(14), 0x0A000000u + (uint)i, 0xAC100001, IpProtocols.Tcp, 30);
        HeaderWriter.Tcp(f.AsSpan(34), (ushort)(1000 + i), 443, 1, 1, TcpFlags.Ack);
        HeaderWriter.FinishL4Checksum(f.AsSpan(14), f.AsSpan(34), false, IpProtocols.Tcp);
        return f;
    }

    public static byte[] VxlanInnerIpv6(int i)
    {
        const int Inner = 14 + 40 + 8 + 18;
        byte[] f = new byte[50 + Inner];
        HeaderWriter.Ethernet(f, s_macB, s_macA, EtherTypes.Ipv4);
        HeaderWriter.Ipv4(f.AsSpan(14), 0x64410001, 0x64400001, IpProtocols.Udp, 16 + Inner);
        HeaderWriter.Udp(f.AsSpan(34), (ushort)(49152 + i), TunnelPorts.Vxlan, 8 + Inner);
        HeaderWriter.Vxlan(f.AsSpan(42), 1000);
        Span<byte> inner = f.AsSpan(50);
        HeaderWriter.Ethernet(inner, s_macB, s_macA, EtherTypes.Ipv6);
        byte[] src = new byte[16];
        byte[] dst = new byte[16];
        src[0] = 0xFD;
        dst[0] = 0xFD;
        src[15] = (byte)i;
        dst[15] = 0xFE;
        HeaderWriter.Ipv6(inner[14..], src, dst, IpProtocols.Udp, 8 + 18);
        HeaderWriter.Udp(inner[54..], (ushort)(2000 + i), 5001, 18);
        HeaderWriter.FinishL4Checksum(inner[14..], inner[54..], true, IpProtocols.Udp);
        return f;
    }
}
