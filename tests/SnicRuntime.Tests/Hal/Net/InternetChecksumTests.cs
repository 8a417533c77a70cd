using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using SnicRuntime.Hal.Net;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Hal.Net;

public class InternetChecksumTests
{
    /// <summary>RFC 1071 written the obvious way: add 16-bit big-endian words, fold, invert.</summary>
    private static ushort Reference(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            uint word = (uint)data[i] << 8;
            if (i + 1 < data.Length)
            {
                word |= data[i + 1];
            }

            sum += word;
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    [Property(MaxTest = 2000)]
    public bool Matches_the_reference_on_any_bytes(byte[] data) =>
        InternetChecksum.Compute(data ?? []) == Reference(data ?? []);

    [Fact]
    public void Matches_the_reference_at_every_length_and_alignment()
    {
        TestSeeds.Run(3, rng =>
        {
            byte[] buf = new byte[300];
            rng.NextBytes(buf);
            for (int start = 0; start < 9; start++)
            {
                for (int len = 0; len < 280; len++)
                {
                    Assert.Equal(Reference(buf.AsSpan(start, len)), InternetChecksum.Compute(buf.AsSpan(start, len)));
                }
            }
        });
    }

    [Fact]
    public void Ipv4_header_checksum_verifies_and_ignores_the_stored_value()
    {
        byte[] h = new byte[20];
        HeaderWriter.Ipv4(h, 0x0A000001, 0x0A000002, IpProtocols.Tcp, 40, id: 0x1234);
        Assert.True(InternetChecksum.VerifyIpv4Header(h));
        ushort good = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(10));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0xBEEF);
        Assert.False(InternetChecksum.VerifyIpv4Header(h));
        Assert.Equal(good, InternetChecksum.Ipv4Header(h));
    }

    [Fact]
    public void Rfc1624_worked_example_gives_plus_zero()
    {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000 (eqn. 3), not 0xFFFF.
        Assert.Equal(0x0000, InternetChecksum.Update16(0xDD2F, 0x5555, 0x3285));
    }

    [Property(MaxTest = 5000)]
    public Property Incremental_update_equals_recomputation(uint src, uint dst, ushort id, byte ttl, ushort newId, uint newSrc, byte newTtl)
    {
        byte[] h = new byte[20];
        HeaderWriter.Ipv4(h, src, dst, IpProtocols.Udp, 100, ttl, id);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(10));

        // Change id (16-bit field), source address (32-bit) and TTL (high byte of a 16-bit word).
        ushort oldTtlWord = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), newId);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(12), newSrc);
        h[8] = newTtl;
        ushort newTtlWord = BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(8));
        ushort updated = InternetChecksum.Update16(checksum, id, newId);
        updated = InternetChecksum.Update32(updated, src, newSrc);
        updated = InternetChecksum.Update16(updated, oldTtlWord, newTtlWord);

        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), updated);
        return InternetChecksum.VerifyIpv4Header(h).Label($"updated 0x{updated:X4} vs full 0x{InternetChecksum.Ipv4Header(h):X4}");
    }
}
