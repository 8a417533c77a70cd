using System.Runtime.InteropServices;
using static SnicRuntime.Hal.AfPacket.LinuxSockets;

namespace SnicRuntime.Hal.AfPacket;

/// <summary>
/// A TPACKET_V3 receive ring: blocks of frames the kernel fills in memory we share with it, so a
/// burst costs no system call at all — the worker reads a block's status word, copies the frames
/// out into pool buffers, and hands the block back by writing its status. The kernel retires a
/// partly filled block after <see cref="RetireMs"/> so a trickle of traffic is not held back.
/// </summary>
/// <remarks>
/// Layout (linux/if_packet.h): each block starts with tpacket_block_desc — version, offset to
/// private data, then tpacket_hdr_v1 { block_status @8, num_pkts @12, offset_to_first_pkt @16,
/// blk_len @20, ... }; frames are tpacket3_hdr { tp_next_offset @0, tp_sec, tp_nsec,
/// tp_snaplen @12, tp_len @16, tp_status @20, tp_mac @24 (u16), tp_net @26, ... } then the frame
/// at tp_mac from the header.
/// </remarks>
internal sealed unsafe class AfPacketRing : IDisposable
{
    /// <remarks>
    /// Many small blocks rather than a few large ones: a block is handed over when full or after
    /// <see cref="RetireMs"/>, so under a trickle each block holds a frame or two, and the number of
    /// blocks is how many milliseconds the worker may be off the CPU before the kernel drops.
    /// </remarks>
    public const int BlockSize = 1 << 16;
    public const int FrameSize = 2048;
    public const int RetireMs = 1;
    private const uint StatusUser = 1;
    private const uint StatusKernel = 0;

    private readonly byte* _map;
    private readonly int _blocks;
    private int _block;
    private byte* _frame;
    private uint _left;

    private AfPacketRing(byte* map, int blocks)
    {
        _map = map;
        _blocks = blocks;
    }

    /// <summary>Sets up a ring on an unbound socket: about <paramref name="depth"/> frames' worth of 64 KiB blocks (64 to 1024).</summary>
    public static AfPacketRing Create(int fd, int depth, string name)
    {
        int version = TPacketV3;
        if (setsockopt(fd, SolPacket, PacketVersion, &version, sizeof(int)) != 0)
        {
            throw new AfPacketException($"'{name}': TPACKET_V3 is not available: {Error(Marshal.GetLastPInvokeError())}");
        }

        int blocks = Math.Max(64, (int)Math.Min(1024, (long)depth * FrameSize / BlockSize));
        var req = new TPacketReq3
        {
            BlockSize = BlockSize,
            BlockCount = (uint)blocks,
            FrameSize = FrameSize,
            FrameCount = (uint)(BlockSize / FrameSize * blocks),
            RetireTimeoutMs = RetireMs,
        };
        if (setsockopt(fd, SolPacket, PacketRxRing, &req, sizeof(TPacketReq3)) != 0)
        {
            throw new AfPacketException($"'{name}': cannot set up a TPACKET_V3 receive ring: {Error(Marshal.GetLastPInvokeError())}");
        }

        void* map = mmap(null, (nuint)((long)BlockSize * blocks), ProtRead | ProtWrite, MapShared, fd, 0);
        if (map == (void*)-1)
        {
            throw new AfPacketException($"'{name}': cannot map the receive ring: {Error(Marshal.GetLastPInvokeError())}");
        }

        return new AfPacketRing((byte*)map, blocks);
    }

    /// <summary>True when a frame is waiting (one load: the worker allocates buffers only then).</summary>
    public bool Ready => _left != 0 || (Volatile.Read(ref *(uint*)(_map + ((long)_block * BlockSize) + 8)) & StatusUser) != 0;

    /// <summary>
    /// Copies up to <paramref name="packets"/>.Length frames into the given (allocated, empty)
    /// buffers; returns how many. No system call.
    /// </summary>
    public int Receive(Span<PacketRef> packets, QueueCounters rx, out long bytes)
    {
        bytes = 0;
        int n = 0;
        while (n < packets.Length)
        {
            byte* block = _map + ((long)_block * BlockSize);
            if (_left == 0)
            {
                if ((Volatile.Read(ref *(uint*)(block + 8)) & StatusUser) == 0)
                {
                    break; // the kernel still owns it: nothing more now
                }

                _left = *(uint*)(block + 12);
                _frame = block + *(uint*)(block + 16);
                if (_left == 0)
                {
                    Release(block);
                    continue;
                }
            }

            uint length = *(uint*)(_frame + 12);
            byte* data = _frame + *(ushort*)(_frame + 24);
            if (length > packets[n].Tailroom)
            {
                rx.OversizeDrops++; // larger than a buffer: dropped whole, the buffer kept for the next frame
            }
            else
            {
                new ReadOnlySpan<byte>(data, (int)length).CopyTo(new Span<byte>(packets[n].DataPointer, (int)length));
                packets[n].SetLength((int)length);
                bytes += length;
                n++;
            }

            _frame += *(uint*)_frame; // tp_next_offset
            if (--_left == 0)
            {
                Release(block);
            }
        }

        return n;
    }

    private void Release(byte* block)
    {
        Volatile.Write(ref *(uint*)(block + 8), StatusKernel);
        _block = (_block + 1) % _blocks;
    }

    public void Dispose() => munmap(_map, (nuint)((long)BlockSize * _blocks));

    [StructLayout(LayoutKind.Sequential)]
    private struct TPacketReq3
    {
        public uint BlockSize;
        public uint BlockCount;
        public uint FrameSize;
        public uint FrameCount;
        public uint RetireTimeoutMs;
        public uint SizeOfPriv;
        public uint FeatureRequestWord;
    }
}
