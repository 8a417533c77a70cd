using SnicRuntime.Contracts.Images;
using System.Security.Cryptography;

namespace SnicRuntime.Management.Images;

/// <summary>
/// The management plane's image-signing key (ECDSA P-256): STATE/keys/image-signing.key (PKCS#8,
/// owner-only) and image-signing.pub (the public key cards are started with, --image-trust).
/// Made on first use, like the enrollment authority.
/// </summary>
public static class SigningKey
{
    public static string PrivatePath(string stateDir) => Path.Combine(stateDir, "keys", "image-signing.key");

    public static string PublicPath(string stateDir) => Path.Combine(stateDir, "keys", "image-signing.pub");

    public static ECDsa LoadOrCreate(string stateDir, out bool created)
    {
        string path = PrivatePath(stateDir);
        created = !File.Exists(path);
        if (!created)
        {
            return ImageKeys.LoadPrivate(path);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Write(key, path, PublicPath(stateDir));
        return key;
    }

    /// <summary>Writes a key pair: the private key readable by its owner only.</summary>
    public static void Write(ECDsa key, string privatePath, string publicPath)
    {
        ArgumentNullException.ThrowIfNull(key);
        using (var f = new FileStream(privatePath, FileMode.Create, FileAccess.Write))
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(privatePath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            f.Write(System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"));
        }

        File.WriteAllText(publicPath, key.ExportSubjectPublicKeyInfoPem() + "\n");
    }
}
