using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SnicRuntime.Management.Images;

/// <summary>
/// Where the firmware executable is, for commands that run it on the host (<c>snicctl replay</c>).
/// The management plane never links the firmware: it runs the same binary a card runs. Looked for,
/// in order: <c>$SNIC_FIRMWARE</c>; beside snicctl (an installed layout); the source tree's
/// published NativeAOT build (<c>out/firmware/&lt;rid&gt;/snic-firmware</c>); its build output
/// (<c>firmware/bin/&lt;config&gt;/net9.0/snic-firmware.dll</c>, run with <c>dotnet</c>).
/// </summary>
public static class FirmwareBinary
{
    public const string EnvironmentVariable = "SNIC_FIRMWARE";

    /// <summary>A start description for the firmware with <paramref name="args"/>, or null with <paramref name="why"/> saying where it looked.</summary>
    public static ProcessStartInfo? Start(IEnumerable<string> args, out string why)
    {
        ArgumentNullException.ThrowIfNull(args);
        var looked = new List<string>();
        foreach ((string file, bool viaDotnet) in Candidates())
        {
            looked.Add(file);
            if (!File.Exists(file))
            {
                continue;
            }

            var start = new ProcessStartInfo(viaDotnet ? "dotnet" : file) { UseShellExecute = false };
            if (viaDotnet)
            {
                start.ArgumentList.Add(file);
            }

            foreach (string a in args)
            {
                start.ArgumentList.Add(a);
            }

            why = "";
            return start;
        }

        why = $"no firmware executable found (set {EnvironmentVariable}, or run ./firmware/publish.sh; looked at {string.Join(", ", looked)})";
        return null;
    }

    private static IEnumerable<(string File, bool ViaDotnet)> Candidates()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } set)
        {
            yield return (set, set.EndsWith(".dll", StringComparison.Ordinal));
            yield break;
        }

        yield return (Path.Combine(AppContext.BaseDirectory, "snic-firmware"), false);
        if (FirmwarePublisher.FindSourceTree() is string tree)
        {
            string rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
            yield return (Path.Combine(tree, "out", "firmware", rid, "snic-firmware"), false);
            foreach (string config in new[] { "Release", "Debug" })
            {
                yield return (Path.Combine(tree, "firmware", "bin", config, "net9.0", "snic-firmware.dll"), true);
            }
        }
    }
}
