namespace SnicRuntime.Hal.Net;

/// <summary>EtherType values the runtime knows (IEEE registry).</summary>
public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;      // 802.1Q C-tag
    public const ushort QinQ = 0x88A8;      // 802.1ad S-tag
    public const ushort QinQLegacy = 0x9100;
    public const ushort Ipv6 = 0x86DD;
    public const ushort TransparentEthernet = 0x6558; // NVGRE / GENEVE payload
}

/// <summary>IP protocol / IPv6 next-header numbers (IANA).</summary>
public static class IpProtocols
{
    public const byte HopByHop = 0;
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Ipv6Routing = 43;
    public const byte Ipv6Fragment = 44;
    public const byte Gre = 47;
    public const byte Esp = 50;
    public const byte AuthenticationHeader = 51;
    public const byte Icmpv6 = 58;
    public const byte NoNextHeader = 59;
    public const byte Ipv6DestinationOptions = 60;
}

/// <summary>Well-known UDP ports of tunnel protocols.</summary>
public static class TunnelPorts
{
    public const ushort Vxlan = 4789;
    public const ushort Geneve = 6081;
}

/// <summary>TCP flag bits (byte 13 of the header).</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
}
