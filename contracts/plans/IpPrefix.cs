using System.Buffers.Binary;
using System.Net;

namespace SnicRuntime.Contracts.Plans;

/// <summary>An IP address or prefix from a plan: IPv4 in the low 32 bits of <see cref="Address"/>, IPv6 in all 128.</summary>
public readonly record struct IpPrefix(bool IsIpv6, UInt128 Address, int Length)
{
    public uint V4 => (uint)Address;

    public override string ToString()
    {
        byte[] bytes = new byte[IsIpv6 ? 16 : 4];
        if (IsIpv6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, V4);
        }

        return $"{new IPAddress(bytes)}/{Length}";
    }
}
