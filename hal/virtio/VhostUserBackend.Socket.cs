using SnicRuntime.Hal.Board;
using System.Runtime.InteropServices;
using System.Text;
using static SnicRuntime.Hal.Virtio.VhostNative;

namespace SnicRuntime.Hal.Virtio;

/// <summary>The control socket's plumbing: replies, exact reads with the file descriptors the driver attaches (SCM_RIGHTS), fd bookkeeping.</summary>
public sealed unsafe partial class VhostUserBackend
{
    private static void ReplaceFd(ref int slot, int fd)
    {
        if (slot >= 0)
        {
            _ = close(slot);
        }

        slot = fd;
    }

    private static void Reply(int c, uint request, ulong value)
    {
        byte* m = stackalloc byte[20];
        *(uint*)m = request;
        *(uint*)(m + 4) = ReplyFlags;
        *(uint*)(m + 8) = 8;
        *(ulong*)(m + 12) = value;
        _ = send(c, m, 20, 0x4000 /* MSG_NOSIGNAL */);
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes; fds attached to them land in <paramref name="fds"/>. Returns the fd count, or -1 at end or error.</summary>
    private static int Receive(int c, byte* buffer, int length, int* fds)
    {
        int got = 0, fdCount = 0;
        byte* control = stackalloc byte[128];
        while (got < length)
        {
            var iov = new AfPacket.LinuxSockets.IoVec { Base = buffer + got, Length = (nuint)(length - got) };
            var msg = new AfPacket.LinuxSockets.MsgHdr { Iov = &iov, IovLength = 1, Control = fds == null ? null : control, ControlLength = fds == null ? 0 : (nuint)128 };
            nint n = recvmsg(c, &msg, 0);
            if (n <= 0)
            {
                if (n < 0 && Marshal.GetLastPInvokeError() == EIntr)
                {
                    continue;
                }

                return -1;
            }

            // cmsghdr: u64 len, i32 level, i32 type, then the fds.
            if (fds != null && msg.ControlLength >= 16 && *(int*)(control + 8) == SolSocket && *(int*)(control + 12) == ScmRights)
            {
                int count = (int)((*(ulong*)control - 16) / 4);
                for (int i = 0; i < count && fdCount < 8; i++)
                {
                    fds[fdCount++] = *(int*)(control + 16 + (4 * i));
                }
            }

            got += (int)n;
        }

        return fdCount;
    }
}
