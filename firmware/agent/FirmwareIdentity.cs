using System.Reflection;
using System.Security.Cryptography;

namespace SnicRuntime.Firmware.Agent;

/// <summary>What firmware this is: its version and the SHA-256 of the running image.</summary>
public static class FirmwareIdentity
{
    private static readonly Lazy<string> s_hash = new(HashImage);

    public static string Version { get; } =
        typeof(FirmwareIdentity).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string ImageSha256 => s_hash.Value;

    private static string HashImage()
    {
        string? path = Environment.ProcessPath;
        if (path is null || !File.Exists(path))
        {
            return "unknown";
        }

        using FileStream f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
