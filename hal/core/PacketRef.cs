using System.Runtime.CompilerServices;

namespace SnicRuntime.Hal;

/// <summary>
/// A reference to one packet buffer: a single pointer, passed by value through bursts.
/// It owns nothing; whoever holds it is responsible for handing it to a tx queue or back to
/// its <see cref="PacketPool"/>.
/// </summary>
public readonly unsafe struct PacketRef : IEquatable<PacketRef>
{
    private readonly PacketHeader* _header;

    internal PacketRef(PacketHeader* header) => _header = header;

    /// <summary>The raw pointer, for rings that store packets as machine words.</summary>
    public nint Raw => (nint)_header;

    public static PacketRef FromRaw(nint raw) => new((PacketHeader*)raw);

    public bool IsNull => _header == null;

    public ref PacketHeader Header
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref *_header;
    }

    private byte* BufferStart => (byte*)_header + sizeof(PacketHeader);

    public int Length
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _header->DataLength;
    }

    public int Headroom => _header->DataOffset;

    public int Tailroom => _header->BufferLength - _header->DataOffset - _header->DataLength;

    /// <summary>The frame bytes.</summary>
    public Span<byte> Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(BufferStart + _header->DataOffset, _header->DataLength);
    }

    public byte* DataPointer => BufferStart + _header->DataOffset;

    /// <summary>Sets the frame length (for writers filling a fresh buffer). False if it does not fit.</summary>
    public bool SetLength(int length)
    {
        if ((uint)length > (uint)(_header->BufferLength - _header->DataOffset))
        {
            return false;
        }

        _header->DataLength = (ushort)length;
        return true;
    }

    /// <summary>
    /// Grows the frame at the front by <paramref name="bytes"/> (for encapsulation) and returns the
    /// new front; an empty span if the headroom is too small.
    /// </summary>
    public Span<byte> Prepend(int bytes)
    {
        if ((uint)bytes > _header->DataOffset)
        {
            return Span<byte>.Empty;
        }

        _header->DataOffset -= (ushort)bytes;
        _header->DataLength += (ushort)bytes;
        return new Span<byte>(BufferStart + _header->DataOffset, bytes);
    }

    /// <summary>Removes <paramref name="bytes"/> from the front (for decapsulation).</summary>
    public bool TrimFront(int bytes)
    {
        if ((uint)bytes > _header->DataLength)
        {
            return false;
        }

        _header->DataOffset += (ushort)bytes;
        _header->DataLength -= (ushort)bytes;
        return true;
    }

    public bool Equals(PacketRef other) => _header == other._header;

    public override bool Equals(object? obj) => obj is PacketRef other && Equals(other);

    public override int GetHashCode() => ((nint)_header).GetHashCode();

    public static bool operator ==(PacketRef left, PacketRef right) => left.Equals(right);

    public static bool operator !=(PacketRef left, PacketRef right) => !left.Equals(right);
}
