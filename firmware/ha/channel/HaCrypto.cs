using System.Buffers.Binary;
using System.Security.Cryptography;

namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>
/// AES-256-GCM for the replication channel. The pairing key (32 bytes, set by the management
/// plane when it pairs two cards) never encrypts a frame itself: each sender run gets its own key,
/// HKDF-SHA256(pairing key, info = "snic-ha" ‖ sender ‖ epoch). So the 96-bit nonce (counter ‖
/// sender) is unique per key even though every run's counter starts at 1, and a frame recorded
/// in one run does not verify in another.
/// </summary>
public sealed class HaCrypto : IDisposable
{
    public const int TagSize = 16;
    public const int KeySize = 32;

    private readonly AesGcm _gcm;

    public HaCrypto(ReadOnlySpan<byte> pairingKey, uint sender, ulong epoch)
    {
        if (pairingKey.Length != KeySize)
        {
            throw new ArgumentException($"a pairing key is {KeySize} bytes, not {pairingKey.Length}", nameof(pairingKey));
        }

        Span<byte> info = stackalloc byte[7 + 4 + 8];
        "snic-ha"u8.CopyTo(info);
        BinaryPrimitives.WriteUInt32BigEndian(info[7..], sender);
        BinaryPrimitives.WriteUInt64BigEndian(info[11..], epoch);
        Span<byte> key = stackalloc byte[KeySize];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, pairingKey, key, salt: default, info);
        _gcm = new AesGcm(key, TagSize);
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (same length) with the header as associated data.</summary>
    public void Seal(ulong counter, uint sender, ReadOnlySpan<byte> header, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(counter, sender, nonce);
        _gcm.Encrypt(nonce, plaintext, ciphertext, tag, header);
    }

    /// <summary>Verifies and decrypts; false when the tag does not verify (nothing is written that a caller should use).</summary>
    public bool Open(ulong counter, uint sender, ReadOnlySpan<byte> header, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(counter, sender, nonce);
        try
        {
            _gcm.Decrypt(nonce, ciphertext, tag, plaintext, header);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private static void Nonce(ulong counter, uint sender, Span<byte> nonce)
    {
        BinaryPrimitives.WriteUInt64BigEndian(nonce, counter);
        BinaryPrimitives.WriteUInt32BigEndian(nonce[8..], sender);
    }

    public void Dispose() => _gcm.Dispose();
}
