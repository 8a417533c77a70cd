using System.Runtime.InteropServices;
using static SnicRuntime.Hal.AfPacket.LinuxSockets;

namespace SnicRuntime.Hal.AfPacket;

/// <summary>
/// One AF_PACKET socket and the native message arrays its bursts use (made once: a burst fills
/// them in place and makes one recvmmsg or sendmmsg call — one system call per burst, not per
/// packet, and nothing allocated).
/// </summary>
internal sealed unsafe class AfPacketSocket : IDisposable
{
    private readonly byte[] _interfaceName;

    public AfPacketSocket(int fd, int burst, int txDepth, string interfaceName, AfPacketRing? ring = null)
    {
        Ring = ring;
        _interfaceName = System.Text.Encoding.ASCII.GetBytes(interfaceName);
        Fd = fd;
        Burst = burst;
        TxDepth = txDepth;
        Messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(burst * sizeof(MMsgHdr)));
        Vectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(burst * sizeof(IoVec)));
        for (int i = 0; i < burst; i++)
        {
            Messages[i].Header.Iov = &Vectors[i];
            Messages[i].Header.IovLength = 1;
        }
    }

    public int Fd { get; private set; }

    /// <summary>The TPACKET_V3 receive ring, or null: receive with recvmmsg.</summary>
    public AfPacketRing? Ring { get; }

    public int Burst { get; }

    /// <summary>Packets one tx burst may hand over (the queue's depth: the rest is refused, as a full ring would).</summary>
    public int TxDepth { get; }

    public MMsgHdr* Messages { get; }

    public IoVec* Vectors { get; }

    public QueueCounters Rx { get; } = new();

    public QueueCounters Tx { get; } = new();

    /// <summary>recvmmsg/sendmmsg failures other than "nothing now" and "link down", by the last errno.</summary>
    public long OtherErrors;

    public int LastError;

    private long _kernelDrops;

    /// <summary>
    /// Frames the kernel dropped for this socket (its buffer or ring was full), accumulated:
    /// PACKET_STATISTICS resets the kernel's count on every read.
    /// </summary>
    public long KernelDrops()
    {
        uint* stats = stackalloc uint[3];
        int length = 12;
        if (Fd >= 0 && getsockopt(Fd, SolPacket, PacketStatistics, stats, &length) == 0)
        {
            Interlocked.Add(ref _kernelDrops, stats[1]);
        }

        return Interlocked.Read(ref _kernelDrops);
    }

    /// <summary>The interface is up and running now (one ioctl; for error paths and setup only).</summary>
    public bool InterfaceUp()
    {
        var req = new IfReq();
        for (int i = 0; i < Math.Min(15, _interfaceName.Length); i++)
        {
            req.Name[i] = _interfaceName[i];
        }

        return ioctl(Fd, SiocGIfFlags, &req) == 0 && ((short)req.Value & (IffUp | IffRunning)) == (IffUp | IffRunning);
    }

    public void Dispose()
    {
        Ring?.Dispose();
        if (Fd >= 0)
        {
            close(Fd);
            Fd = -1;
        }

        NativeMemory.Free(Messages);
        NativeMemory.Free(Vectors);
    }
}

/// <summary>Receive side of an AF_PACKET queue: one recvmmsg per burst into pool buffers.</summary>
public readonly unsafe struct AfPacketRxQueue : IRxQueue
{
    private readonly AfPacketSocket _socket;
    private readonly PacketPool _pool;

    internal AfPacketRxQueue(AfPacketSocket socket, PacketPool pool)
    {
        _socket = socket;
        _pool = pool;
    }

    public int RxBurst(Span<PacketRef> packets)
    {
        AfPacketSocket s = _socket;
        int want = Math.Min(packets.Length, s.Burst);
        if (s.Ring is AfPacketRing ring)
        {
            return RingBurst(s, ring, packets[..want]);
        }

        int got = _pool.AllocBulk(packets[..want]);
        if (got == 0)
        {
            return 0;
        }

        MMsgHdr* m = s.Messages;
        for (int i = 0; i < got; i++)
        {
            s.Vectors[i].Base = packets[i].DataPointer;
            s.Vectors[i].Length = (nuint)packets[i].Tailroom;
            m[i].Length = 0;
        }

        // MSG_TRUNC: a packet socket then reports a frame's real length and flags one that did not fit.
        int n = recvmmsg(s.Fd, m, (uint)got, MsgDontWait | MsgTrunc, null);
        if (n <= 0)
        {
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EAgain)
                {
                    s.OtherErrors++;
                    s.LastError = errno;
                }
            }

            _pool.FreeBulk(packets[..got]);
            return 0;
        }

        long bytes = 0;
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            if ((m[i].Header.Flags & MsgTrunc) != 0 || m[i].Length > (uint)packets[i].Tailroom)
            {
                s.Rx.OversizeDrops++; // larger than a buffer: dropped whole, never forwarded cut short
                _pool.Free(packets[i]);
                continue;
            }

            packets[i].SetLength((int)m[i].Length);
            bytes += m[i].Length;
            packets[kept++] = packets[i];
        }

        if (n < got)
        {
            _pool.FreeBulk(packets[n..got]);
        }

        s.Rx.Packets += kept;
        s.Rx.Bytes += bytes;
        return kept;
    }

    // TPACKET_V3: no system call; buffers are taken from the pool only when a frame waits.
    private int RingBurst(AfPacketSocket s, AfPacketRing ring, Span<PacketRef> packets)
    {
        if (!ring.Ready)
        {
            return 0;
        }

        int got = _pool.AllocBulk(packets);
        int n = ring.Receive(packets[..got], s.Rx, out long bytes);
        if (n < got)
        {
            _pool.FreeBulk(packets[n..got]);
        }

        s.Rx.Packets += n;
        s.Rx.Bytes += bytes;
        return n;
    }
}

/// <summary>Transmit side of an AF_PACKET queue: one sendmmsg per burst; the kernel copies, so sent buffers go back to the pool at once.</summary>
public readonly unsafe struct AfPacketTxQueue : ITxQueue
{
    private readonly AfPacketSocket _socket;
    private readonly PacketPool _pool;

    internal AfPacketTxQueue(AfPacketSocket socket, PacketPool pool)
    {
        _socket = socket;
        _pool = pool;
    }

    public int TxBurst(ReadOnlySpan<PacketRef> packets)
    {
        AfPacketSocket s = _socket;
        int offered = Math.Min(packets.Length, Math.Min(s.Burst, s.TxDepth));
        if (offered == 0)
        {
            return 0;
        }

        MMsgHdr* m = s.Messages;
        long bytes = 0;
        for (int i = 0; i < offered; i++)
        {
            s.Vectors[i].Base = packets[i].DataPointer;
            s.Vectors[i].Length = (nuint)packets[i].Length;
            bytes += packets[i].Length;
        }

        int sent = sendmmsg(s.Fd, m, (uint)offered, MsgDontWait);
        int errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
        if (errno == ENetDown && s.InterfaceUp())
        {
            // A socket reports a link that went down once, on its next call, even when the link
            // is back by then: the link is up, so send again.
            sent = sendmmsg(s.Fd, m, (uint)offered, MsgDontWait);
            errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
        }

        if (sent < 0)
        {
            if (errno is ENetDown or ENxIo)
            {
                s.Tx.LinkDownDrops += packets.Length; // refused: they still belong to the caller
            }
            else if (errno is EAgain or ENoBufs)
            {
                s.Tx.RingFullDrops += packets.Length;
            }
            else
            {
                s.OtherErrors++;
                s.LastError = errno;
            }

            return 0;
        }

        for (int i = sent; i < offered; i++)
        {
            bytes -= packets[i].Length;
        }

        _pool.FreeBulk(packets[..sent]);
        s.Tx.Packets += sent;
        s.Tx.Bytes += bytes;
        return sent;
    }
}
