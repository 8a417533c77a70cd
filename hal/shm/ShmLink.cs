using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Hal.Shm;

/// <summary>Why a shared-memory link cannot be created or attached, naming the file.</summary>
public sealed class ShmLinkException(string message) : HalException(message);

/// <summary>
/// A wire between two processes: one file in /dev/shm that both map, holding per queue two
/// single-producer single-consumer frame rings (fabric → card, card → fabric), the link state the
/// fabric sets, and a status board the card writes for the fabric (what DASH's DPU tells its NPU
/// over BGP/BFD: which scopes it serves, under which term, whether it is ready).
/// </summary>
/// <remarks>
/// The fabric side creates the file; a card attaches to it and may die and attach again: every
/// cursor lives in the file, so a restarted card continues where the dead one stopped (a frame the
/// dead card had copied out but not forwarded is lost with it, as on a real wire).
/// <code>
/// offset 0     magic "SNICSHM1" | version u32 | queues u32 | slots u32 | slot bytes u32
///        32    link up u32 (fabric) | card pid u32 | card attaches u32 | pad | frames flushed at attach u64 (48)
///        128   status: seq u64 (odd while written) | length u32 | bytes (≤ StatusCapacity)
///        4096  queue 0: ring to card, ring to fabric; queue 1: ...
/// ring:  head u64 (producer's line) | tail u64 (consumer's line, +64) | slots from +128
/// slot:  length u32 | reserved u32 | frame
/// </code>
/// Copies, not descriptors: each process owns its own buffers, so nothing a dead process held can
/// leak into the other's pool (memif's zero-copy mode trades that safety for a copy).
/// </remarks>
public sealed unsafe class ShmLink : IDisposable
{
    public const int HeaderBytes = 4096;
    public const int StatusCapacity = HeaderBytes - 128 - 16;
    private const ulong Magic = 0x314D485343494E53UL; // "SNICSHM1" little-endian
    private const uint Version = 1;
    private const int RingHeaderBytes = 128;
    private const int SlotHeaderBytes = 8;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;

    private ShmLink(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, int queues, int slots, int slotBytes)
    {
        Path = path;
        _file = file;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
        Queues = queues;
        Slots = slots;
        SlotBytes = slotBytes;
    }

    public string Path { get; }

    public int Queues { get; }

    /// <summary>Frames each ring holds (a power of two).</summary>
    public int Slots { get; }

    /// <summary>Bytes per slot, its 8-byte header included.</summary>
    public int SlotBytes { get; }

    /// <summary>The largest frame a slot carries.</summary>
    public int MaxFrame => SlotBytes - SlotHeaderBytes;

    private static long RingBytes(int slots, int slotBytes) => RingHeaderBytes + (long)slots * slotBytes;

    /// <summary>Creates (or re-creates, emptied) the link file: the fabric's side.</summary>
    public static ShmLink Create(string path, int queues = 1, int slots = 1024, int slotBytes = 2048)
    {
        if (queues is < 1 or > 64 || slots < 2 || (slots & (slots - 1)) != 0 || slotBytes < 128 || slotBytes % 64 != 0)
        {
            throw new ShmLinkException($"shm link {path}: {queues} queues of {slots} slots × {slotBytes} B is not a valid shape (slots a power of two, slot bytes a multiple of 64)");
        }

        long size = HeaderBytes + (long)queues * 2 * RingBytes(slots, slotBytes);
        try
        {
            File.Delete(path);
            var file = MemoryMappedFile.CreateFromFile(path, FileMode.CreateNew, null, size, MemoryMappedFileAccess.ReadWrite);
            var link = new ShmLink(path, file, file.CreateViewAccessor(0, size), queues, slots, slotBytes);
            new Span<byte>(link._base, (int)Math.Min(size, int.MaxValue)).Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(link._base + 8, 4), Version);
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(link._base + 12, 4), (uint)queues);
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(link._base + 16, 4), (uint)slots);
            BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(link._base + 20, 4), (uint)slotBytes);
            link.LinkUp = true;
            Volatile.Write(ref *(ulong*)link._base, Magic); // last: a card attaching sees a whole header or none
            return link;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShmLinkException($"shm link {path}: cannot create it: {e.Message}");
        }
    }

    /// <summary>Attaches to a link the fabric created: the card's side.</summary>
    public static ShmLink Attach(string path)
    {
        MemoryMappedFile? file = null;
        try
        {
            long length = new FileInfo(path).Length;
            if (length < HeaderBytes)
            {
                throw new ShmLinkException($"shm link {path}: {length} bytes is too short for a link header");
            }

            file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
            using (MemoryMappedViewAccessor head = file.CreateViewAccessor(0, HeaderBytes))
            {
                if (head.ReadUInt64(0) != Magic)
                {
                    throw new ShmLinkException($"shm link {path}: not a SnicRuntime link (bad magic)");
                }

                uint version = head.ReadUInt32(8);
                int queues = (int)head.ReadUInt32(12), slots = (int)head.ReadUInt32(16), slotBytes = (int)head.ReadUInt32(20);
                if (version != Version)
                {
                    throw new ShmLinkException($"shm link {path}: version {version}, this build speaks {Version}");
                }

                long size = HeaderBytes + (long)queues * 2 * RingBytes(slots, slotBytes);
                if (queues is < 1 or > 64 || slots < 2 || (slots & (slots - 1)) != 0 || slotBytes < 128 || size != length)
                {
                    throw new ShmLinkException($"shm link {path}: header says {queues} queues × {slots} slots × {slotBytes} B, which does not match its {length} bytes");
                }

                var link = new ShmLink(path, file, file.CreateViewAccessor(0, size), queues, slots, slotBytes);
                // Frames queued toward a card that died were addressed to it: a restarted card
                // starts with an empty rx ring, as a NIC's rings are after a reset. They are counted.
                for (int q = 0; q < queues; q++)
                {
                    Interlocked.Add(ref *(long*)(link._base + 48), link.Ring(q, toCard: true).DiscardAll());
                }

                // What the dead card announced is no longer true: a card that attaches announces
                // nothing ("{}") until it says otherwise.
                link.PublishStatus("{}"u8);
                Interlocked.Increment(ref *(int*)(link._base + 40));
                Volatile.Write(ref *(int*)(link._base + 36), Environment.ProcessId);
                return link;
            }
        }
        catch (FileNotFoundException)
        {
            file?.Dispose();
            throw new ShmLinkException($"shm link {path} does not exist (the fabric creates it; start the fabric first)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            throw new ShmLinkException($"shm link {path}: cannot attach: {e.Message}");
        }
        catch (ShmLinkException)
        {
            file?.Dispose();
            throw;
        }
    }

    /// <summary>Set by the fabric: when down, the card's transmits are dropped and counted, and the fabric sends nothing.</summary>
    public bool LinkUp
    {
        get => Volatile.Read(ref *(int*)(_base + 32)) != 0;
        set => Volatile.Write(ref *(int*)(_base + 32), value ? 1 : 0);
    }

    /// <summary>The process id of the card that attached last (0: none yet).</summary>
    public int CardProcessId => Volatile.Read(ref *(int*)(_base + 36));

    /// <summary>How many times a card attached (a restart adds one).</summary>
    public int CardAttaches => Volatile.Read(ref *(int*)(_base + 40));

    /// <summary>Frames discarded from the card's rx rings when a card attached (queued toward a card that had died).</summary>
    public long FlushedAtAttach => Volatile.Read(ref *(long*)(_base + 48));

    /// <summary>The ring frames travel on toward the card (<paramref name="toCard"/>) or toward the fabric.</summary>
    public ShmRing Ring(int queue, bool toCard)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, Queues);
        byte* ring = _base + HeaderBytes + (queue * 2 + (toCard ? 0 : 1)) * RingBytes(Slots, SlotBytes);
        return new ShmRing(ring, Slots, SlotBytes);
    }

    /// <summary>The card publishes its status (a seqlock: the fabric never reads a half-written one).</summary>
    public void PublishStatus(ReadOnlySpan<byte> status)
    {
        if (status.Length > StatusCapacity)
        {
            throw new ArgumentException($"a status of {status.Length} B does not fit the link's {StatusCapacity} B", nameof(status));
        }

        ref ulong seq = ref *(ulong*)(_base + 128);
        ulong s = Volatile.Read(ref seq);
        Volatile.Write(ref seq, s | 1); // odd: being written
        Interlocked.MemoryBarrier();
        *(int*)(_base + 136) = status.Length;
        status.CopyTo(new Span<byte>(_base + 144, StatusCapacity));
        Volatile.Write(ref seq, (s | 1) + 1);
    }

    /// <summary>
    /// Reads the card's status when it changed since <paramref name="lastSeq"/>: true with its
    /// length in <paramref name="length"/>; false when unchanged, never written, or being written.
    /// </summary>
    public bool TryReadStatus(ref ulong lastSeq, Span<byte> into, out int length)
    {
        length = 0;
        ref ulong seq = ref *(ulong*)(_base + 128);
        ulong before = Volatile.Read(ref seq);
        if (before == lastSeq || (before & 1) != 0 || before == 0)
        {
            return false;
        }

        int n = *(int*)(_base + 136);
        if (n < 0 || n > StatusCapacity || n > into.Length)
        {
            return false;
        }

        new ReadOnlySpan<byte>(_base + 144, n).CopyTo(into);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref seq) != before)
        {
            return false; // rewritten meanwhile: read again next time
        }

        lastSeq = before;
        length = n;
        return true;
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}

/// <summary>
/// One direction of one queue of a <see cref="ShmLink"/>: a single-producer single-consumer ring of
/// frame slots in the shared file. The producer copies a frame into the slot at head and then
/// publishes head (release); the consumer copies it out and then publishes tail. A value type over
/// the mapping: the per-packet path calls it directly.
/// </summary>
public readonly unsafe struct ShmRing
{
    private readonly byte* _ring;
    private readonly long _mask;
    private readonly int _slotBytes;

    internal ShmRing(byte* ring, int slots, int slotBytes)
    {
        _ring = ring;
        _mask = slots - 1;
        _slotBytes = slotBytes;
    }

    private ref long Head => ref *(long*)_ring;

    private ref long Tail => ref *(long*)(_ring + 64);

    public int Capacity => (int)(_mask + 1);

    public int MaxFrame => _slotBytes - 8;

    /// <summary>Frames waiting (a sample from any thread).</summary>
    public int Count => (int)(Volatile.Read(ref Head) - Volatile.Read(ref Tail));

    /// <summary>Producer: slots free now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Free() => Capacity - (int)(Head - Volatile.Read(ref Tail));

    /// <summary>Producer: copies <paramref name="frame"/> into slot <paramref name="index"/> places past head (not yet visible).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(int index, ReadOnlySpan<byte> frame)
    {
        byte* slot = _ring + 128 + ((Head + index) & _mask) * _slotBytes;
        *(int*)slot = frame.Length;
        frame.CopyTo(new Span<byte>(slot + 8, frame.Length));
    }

    /// <summary>Producer: makes <paramref name="count"/> written slots visible to the consumer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish(int count) => Volatile.Write(ref Head, Head + count);

    /// <summary>Consumer: frames ready now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Ready() => (int)(Volatile.Read(ref Head) - Tail);

    /// <summary>
    /// Consumer: the frame <paramref name="index"/> places past tail. Its length is clamped to the
    /// slot, so a corrupt length written by a broken peer cannot make this read outside the ring.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Peek(int index, out bool oversize)
    {
        byte* slot = _ring + 128 + ((Tail + index) & _mask) * _slotBytes;
        int length = *(int*)slot;
        oversize = length < 0 || length > _slotBytes - 8;
        return oversize ? default : new ReadOnlySpan<byte>(slot + 8, length);
    }

    /// <summary>Consumer: gives <paramref name="count"/> read slots back to the producer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release(int count) => Volatile.Write(ref Tail, Tail + count);

    /// <summary>Consumer: drops every frame waiting; returns how many.</summary>
    internal int DiscardAll()
    {
        long head = Volatile.Read(ref Head);
        int n = (int)(head - Tail);
        Volatile.Write(ref Tail, head);
        return n;
    }

    /// <summary>Producer convenience (the fabric): one frame, true when it fit.</summary>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > MaxFrame || Free() < 1)
        {
            return false;
        }

        Write(0, frame);
        Publish(1);
        return true;
    }
}
