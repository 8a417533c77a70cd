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

    /// <summary>
    /// The cores' clock in MHz (first "cpu MHz" of /proc/cpuinfo; 0 when unknown). Busy time ×
    /// clock is how the management plane turns a worker's nanoseconds into cycles per packet:
    /// .NET has no portable cycle counter, and the busy time is measured once per burst anyway.
    /// </summary>
    public static double CpuMhz { get; } = ReadCpuMhz();

    private static double ReadCpuMhz()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("cpu MHz", StringComparison.Ordinal)
                    && double.TryParse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.NumberStyles.Float,
                        System.Globalization.CultureInfo.InvariantCulture, out double mhz))
                {
                    return mhz;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return 0;
    }

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
