using System.Security.Cryptography;

namespace SnicRuntime.Contracts.Images;

/// <summary>
/// Image-signing keys: ECDSA P-256 with SHA-256 over the manifest's bytes, the signature in IEEE
/// P1363 form (r‖s, 64 bytes). Private keys are PKCS#8 PEM, public keys SubjectPublicKeyInfo PEM;
/// a trust file may hold several public keys (a rotation keeps the old one for a while).
/// </summary>
public static class ImageKeys
{
    public const int SignatureBytes = 64;

    /// <summary>The key id the manifest names: the first 16 bytes of SHA-256(SubjectPublicKeyInfo), hex.</summary>
    public static string KeyId(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()).AsSpan(0, 16));
    }

    public static byte[] Sign(ECDsa key, ReadOnlySpan<byte> manifest)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.SignData(manifest, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static bool Verify(ECDsa key, ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        return signature.Length == SignatureBytes
            && key.VerifyData(manifest, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>Every public key in a PEM file (PUBLIC KEY blocks); a clear error when there is none.</summary>
    public static List<ECDsa> LoadTrusted(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException([$"trust file '{path}': {e.Message}"]);
        }

        var keys = new List<ECDsa>();
        const string Begin = "-----BEGIN PUBLIC KEY-----";
        const string End = "-----END PUBLIC KEY-----";
        for (int at = text.IndexOf(Begin, StringComparison.Ordinal); at >= 0; at = text.IndexOf(Begin, at + 1, StringComparison.Ordinal))
        {
            int end = text.IndexOf(End, at, StringComparison.Ordinal);
            if (end < 0)
            {
                break;
            }

            var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(text.AsSpan(at, end + End.Length - at));
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                key.Dispose();
                throw new ImageException([$"trust file '{path}': a public key is not an EC key: {e.Message}"]);
            }

            keys.Add(key);
        }

        if (keys.Count == 0)
        {
            throw new ImageException([$"trust file '{path}' holds no PUBLIC KEY"]);
        }

        return keys;
    }

    public static ECDsa LoadPrivate(string path)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
            return key;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new ImageException([$"signing key '{path}': {e.Message}"]);
        }
    }
}
