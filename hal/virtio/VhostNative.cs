using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Virtio;

/// <summary>The libc calls the vhost-user backend needs: a Unix socket that carries file descriptors (SCM_RIGHTS), mmap, eventfd writes.</summary>
internal static unsafe partial class VhostNative
{
    public const int AfUnix = 1;
    public const int SockStream = 1;
    public const int SockCloExec = 0x80000;
    public const int SolSocket = 1;
    public const int ScmRights = 1;
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;
    public const int EIntr = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrUn
    {
        public ushort Family;
        public fixed byte Path[108];
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, SockAddrUn* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int accept4(int fd, void* address, void* length, int flags);

    // iovec and msghdr are the AF_PACKET driver's (one definition of the kernel's layout).
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recvmsg(int fd, AfPacket.LinuxSockets.MsgHdr* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    public static string Error(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
