using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SnicRuntime.Contracts.Plans;

/// <summary>Parsers for the text forms in a plan, each returning a plain reason on failure.</summary>
public static class PlanSyntax
{
    public static bool TryAddress(string? text, out IpPrefix address, out string reason)
    {
        address = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            reason = "missing IP address";
            return false;
        }

        if (!StrictIp(text, out IPAddress? ip))
        {
            reason = $"'{text}' is not an IP address";
            return false;
        }

        address = FromIp(ip);
        reason = "";
        return true;
    }

    public static bool TryIpv4(string? text, out uint address, out string reason)
    {
        address = 0;
        if (!TryAddress(text, out IpPrefix a, out reason))
        {
            return false;
        }

        if (a.IsIpv6)
        {
            reason = $"'{text}' is IPv6; an IPv4 address is required here";
            return false;
        }

        address = a.V4;
        return true;
    }

    /// <summary>"10.1.0.0/16" or "2001:db8::/32"; host bits beyond the length are an error (a typo more often than intent).</summary>
    public static bool TryPrefix(string? text, out IpPrefix prefix, out string reason)
    {
        prefix = default;
        reason = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            reason = "missing prefix";
            return false;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !StrictIp(text[..slash], out IPAddress? ip)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int length))
        {
            reason = $"'{text}' is not a prefix (address/length)";
            return false;
        }

        IpPrefix a = FromIp(ip);
        int bits = a.IsIpv6 ? 128 : 32;
        if (length > bits)
        {
            reason = $"'{text}': length {length} exceeds {bits}";
            return false;
        }

        UInt128 hostMask = length == bits ? UInt128.Zero : (UInt128.One << (bits - length)) - UInt128.One;
        if ((a.Address & hostMask) != UInt128.Zero)
        {
            reason = $"'{text}' has bits set after /{length}";
            return false;
        }

        prefix = a with { Length = length };
        return true;
    }

    public static bool TryMac(string? text, out ulong mac, out string reason)
    {
        mac = 0;
        reason = $"'{text}' is not a MAC address (aa:bb:cc:dd:ee:ff)";
        if (text is null || text.Length != 17)
        {
            if (text is null)
            {
                reason = "missing MAC address";
            }

            return false;
        }

        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] != ':')
            {
                return false;
            }

            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            mac = mac << 8 | b;
        }

        reason = "";
        return true;
    }

    /// <summary>"80" or "1000-2000".</summary>
    public static bool TryPortRange(string? text, out PortRange range, out string reason)
    {
        range = default;
        reason = $"'{text}' is not a port or port range (0-65535)";
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        int dash = text.IndexOf('-', StringComparison.Ordinal);
        ReadOnlySpan<char> a = dash < 0 ? text : text.AsSpan(0, dash);
        ReadOnlySpan<char> b = dash < 0 ? text : text.AsSpan(dash + 1);
        if (!ushort.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out ushort first)
            || !ushort.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out ushort last))
        {
            return false;
        }

        if (first > last)
        {
            reason = $"'{text}': range starts after it ends";
            return false;
        }

        range = new PortRange(first, last);
        reason = "";
        return true;
    }

    // IPAddress.TryParse takes legacy forms ("1.2.3" = 1.2.0.3, "10" = 0.0.0.10); in a plan those
    // are typos, so IPv4 must be four dotted decimals.
    private static bool StrictIp(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? ip)
    {
        ip = null;
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(text, out ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 && !text.Contains('%', StringComparison.Ordinal);
        }

        string[] parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)))
        {
            return false;
        }

        return IPAddress.TryParse(text, out ip);
    }

    private static IpPrefix FromIp(IPAddress ip)
    {
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out int written);
        return ip.AddressFamily == AddressFamily.InterNetworkV6
            ? new IpPrefix(true, BinaryPrimitives.ReadUInt128BigEndian(bytes), 128)
            : new IpPrefix(false, BinaryPrimitives.ReadUInt32BigEndian(bytes[..written]), 32);
    }
}
