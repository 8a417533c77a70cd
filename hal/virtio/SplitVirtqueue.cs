namespace SnicRuntime.Hal.Virtio;

/// <summary>
/// One split virtqueue as the device sees it (virtio 1.x §2.7): the driver's descriptor table,
/// available ring and used ring, in memory the driver shared with us. Only the device side is
/// here: take available chains, give back used entries. Single consumer (the worker that owns
/// the queue), no locks.
/// </summary>
/// <remarks>
/// desc[i]: u64 addr, u32 len, u16 flags (NEXT 1, WRITE 2, INDIRECT 4), u16 next.
/// avail:   u16 flags, u16 idx, u16 ring[size].   used: u16 flags, u16 idx, {u32 id, u32 len} ring[size].
/// Addresses in descriptors are the driver's ("guest physical"): <see cref="VhostMemory"/> maps them.
/// </remarks>
internal sealed unsafe class SplitVirtqueue
{
    public const ushort DescNext = 1;
    public const ushort DescWrite = 2;
    public const ushort DescIndirect = 4;
    private const ushort UsedNoNotify = 1;
    private const ushort AvailNoInterrupt = 1;

    public byte* Desc;
    public byte* Avail;
    public byte* Used;
    public int Size;
    public ushort LastAvail;
    public ushort UsedIndex;
    public int CallFd = -1;
    public int KickFd = -1;

    /// <summary>Set by the control thread once the ring is fully described; the worker touches it only then.</summary>
    public volatile bool Ready;

    /// <summary>Addresses and kick given (the ring could run).</summary>
    public bool Started;

    /// <summary>SET_VRING_ENABLE's last word (rings start disabled once protocol features are negotiated).</summary>
    public bool Enabled;

    /// <summary>Odd while the worker is inside a burst (the control thread waits for even before unmapping).</summary>
    public int InBurst;

    public VhostMemory? Memory;

    public void Start()
    {
        // We poll: tell the driver not to kick us for every buffer it adds.
        *(ushort*)Used = UsedNoNotify;
        UsedIndex = *(ushort*)(Used + 2);
    }

    /// <summary>Chains the driver has made available and we have not taken.</summary>
    public int Pending => (ushort)(Volatile.Read(ref *(ushort*)(Avail + 2)) - LastAvail);

    public ushort NextAvailHead()
    {
        ushort head = *(ushort*)(Avail + 4 + (2 * (LastAvail % Size)));
        LastAvail++;
        return head;
    }

    public void Descriptor(ushort index, out ulong address, out uint length, out ushort flags, out ushort next)
    {
        byte* d = Desc + (16 * (index % Size));
        address = *(ulong*)d;
        length = *(uint*)(d + 8);
        flags = *(ushort*)(d + 12);
        next = *(ushort*)(d + 14);
    }

    public void AddUsed(ushort head, uint length)
    {
        byte* entry = Used + 4 + (8 * (UsedIndex % Size));
        *(uint*)entry = head;
        *(uint*)(entry + 4) = length;
        UsedIndex++;
    }

    /// <summary>Publishes the used entries (release), then interrupts the driver unless it asked us not to.</summary>
    public void Flush()
    {
        Volatile.Write(ref *(ushort*)(Used + 2), UsedIndex);
        if (CallFd >= 0 && (Volatile.Read(ref *(ushort*)Avail) & AvailNoInterrupt) == 0)
        {
            ulong one = 1;
            _ = VhostNative.write(CallFd, &one, 8);
        }
    }
}

/// <summary>The driver's memory regions (SET_MEM_TABLE), mapped into this process.</summary>
internal sealed unsafe class VhostMemory : IDisposable
{
    private readonly Region[] _regions;

    public VhostMemory(Region[] regions) => _regions = regions;

    public readonly struct Region(ulong guestAddress, ulong size, ulong userAddress, byte* mapped, ulong mappedLength)
    {
        public readonly ulong GuestAddress = guestAddress;
        public readonly ulong Size = size;
        public readonly ulong UserAddress = userAddress;
        public readonly byte* Base = mapped;
        public readonly ulong MappedLength = mappedLength;
    }

    /// <summary>Our pointer for a driver ("guest physical") address with <paramref name="length"/> bytes, or null when it is not in a region.</summary>
    public byte* FromGuest(ulong address, ulong length)
    {
        foreach (Region r in _regions)
        {
            if (address >= r.GuestAddress && address + length <= r.GuestAddress + r.Size)
            {
                return r.Base + (address - r.GuestAddress);
            }
        }

        return null;
    }

    /// <summary>Our pointer for an address in the driver process's own space (ring addresses in SET_VRING_ADDR).</summary>
    public byte* FromUser(ulong address)
    {
        foreach (Region r in _regions)
        {
            if (address >= r.UserAddress && address < r.UserAddress + r.Size)
            {
                return r.Base + (address - r.UserAddress);
            }
        }

        return null;
    }

    public void Dispose()
    {
        foreach (Region r in _regions)
        {
            // Base points past the mmap offset; unmap from the start of the mapping.
            _ = VhostNative.munmap(r.Base - (long)(r.MappedLength - r.Size), (nuint)r.MappedLength);
        }
    }
}
