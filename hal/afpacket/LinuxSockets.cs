using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.AfPacket;

/// <summary>The few Linux calls the AF_PACKET driver needs (libc, through source-generated P/Invoke: no marshalling per call).</summary>
internal static unsafe partial class LinuxSockets
{
    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const int SockNonBlock = 0x800;
    public const int SockCloExec = 0x80000;
    public const ushort EthPAll = 0x0003;
    public const int SolPacket = 263;
    public const int SolSocket = 1;
    public const int PacketAddMembership = 1;
    public const int PacketFanout = 18;
    public const int PacketIgnoreOutgoing = 23;
    public const int PacketMrPromisc = 1;
    public const int FanoutHash = 0;
    public const int SoRcvBuf = 8;
    public const int SoSndBuf = 7;
    public const int MsgDontWait = 0x40;
    public const int MsgTrunc = 0x20;
    public const int EAgain = 11;
    public const int ENetDown = 100;
    public const int ENxIo = 6;
    public const int ENoBufs = 105;
    public const uint SiocGIfFlags = 0x8913;
    public const uint SiocGIfMtu = 0x8921;
    public const short IffUp = 0x1;
    public const short IffRunning = 0x40;
    public const int CloneNewNet = 0x40000000;
    public const int PacketRxRing = 5;
    public const int PacketVersion = 10;
    public const int PacketStatistics = 6;
    public const int TPacketV3 = 2;
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol; // network order
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PacketMreq
    {
        public int IfIndex;
        public ushort Type;
        public ushort ALen;
        public ulong Address;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct ifreq: a 16-byte name and a union (flags, MTU, ...), 40 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    public struct IfReq
    {
        public fixed byte Name[16];
        public int Value; // ifr_flags (short) or ifr_mtu (int): both start here
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, SockAddrLl* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, IfReq* request2);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int type);

    public static ushort HostToNetwork(ushort v) => BitConverter.IsLittleEndian ? (ushort)((v << 8) | (v >> 8)) : v;

    public static string Error(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
