using System.Diagnostics;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Management.Images;

/// <summary>
/// Publishes the NativeAOT firmware for a board's runtime identifier and instruction set from the
/// source tree, after checking what the build will need, so a missing pack or cross tool is one
/// clear sentence instead of a restore or link failure minutes in.
/// </summary>
public static class FirmwarePublisher
{
    /// <summary>The NativeAOT packs an arm64 image needs, at the version Directory.Build.targets pins.</summary>
    public static readonly string[] Arm64Packs =
    [
        "runtime.linux-arm64.Microsoft.DotNet.ILCompiler",
        "Microsoft.NETCore.App.Runtime.linux-arm64",
        "Microsoft.NETCore.App.Host.linux-arm64",
    ];

    public const string Arm64PackVersion = "9.0.23";

    /// <summary>The SnicRuntime source tree (SnicRuntime.sln) above the working directory or this program, or null.</summary>
    public static string? FindSourceTree()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "SnicRuntime.sln")))
                {
                    return d.FullName;
                }
            }
        }

        return null;
    }

    /// <summary>What an arm64 build lacks on this machine: packs the package source does not serve, cross tools not installed.</summary>
    public static List<string> MissingForArm64(Func<string, string, bool>? packAvailable = null)
    {
        packAvailable ??= PackAvailable;
        var missing = new List<string>();
        foreach (string pack in Arm64Packs)
        {
            if (!packAvailable(pack, Arm64PackVersion))
            {
                missing.Add($"NuGet package {pack} {Arm64PackVersion} (the package source does not serve it)");
            }
        }

        if (RuntimeInformationIsArm64())
        {
            return missing; // a native arm64 host links with its own toolchain
        }

        foreach ((string file, string package) in new[]
                 {
                     ("/usr/bin/clang-14", "clang-14"),
                     ("/usr/aarch64-linux-gnu/lib/libc.so.6", "libc6-dev-arm64-cross"),
                     ("/usr/bin/aarch64-linux-gnu-objcopy", "binutils-aarch64-linux-gnu"),
                     ("/usr/bin/aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
                 })
        {
            if (!File.Exists(file))
            {
                missing.Add($"Debian package {package} (cross-linking arm64 on this x86-64 host; {file} is absent)");
            }
        }

        return missing;
    }

    private static bool RuntimeInformationIsArm64() =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64;

    /// <summary>In the local package folder already, or served by nuget.org's flat container (what restore asks).</summary>
    private static bool PackAvailable(string id, string version)
    {
        string lower = id.ToLowerInvariant();
        string local = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (Directory.Exists(Path.Combine(local, lower, version)))
        {
            return true;
        }

        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
            using var request = new HttpRequestMessage(HttpMethod.Head, $"https://api.nuget.org/v3-flatcontainer/{lower}/{version}/{lower}.{version}.nupkg");
            using HttpResponseMessage response = http.Send(request);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return true; // cannot tell from here: let restore be the judge
        }
    }

    /// <summary>Publishes into out/firmware/&lt;board&gt;/ and returns that directory; throws with the build's own output on failure.</summary>
    public static string Publish(BoardDefinition board, string sourceTree, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(log);
        if (board.RuntimeIdentifier == "linux-arm64" && MissingForArm64() is { Count: > 0 } missing)
        {
            throw new InvalidOperationException($"cannot build a linux-arm64 image for board '{board.Id}' here; missing:\n  " + string.Join("\n  ", missing));
        }

        string output = Path.Combine(sourceTree, "out", "firmware", board.Id);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = sourceTree,
        };
        foreach (string a in new[] { "publish", Path.Combine("firmware", "SnicRuntime.Firmware.csproj"), "-c", "Release", "-r", board.RuntimeIdentifier, "-o", output, "-nologo", "-v", "quiet" })
        {
            psi.ArgumentList.Add(a);
        }

        if (board.Cpu.InstructionSet is string isa)
        {
            psi.ArgumentList.Add($"-p:IlcInstructionSet={isa}");
        }

        log($"publishing the NativeAOT firmware for {board.RuntimeIdentifier}{(board.Cpu.InstructionSet is null ? "" : " (" + board.Cpu.InstructionSet + ")")} into {output} ...");
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish failed for board '{board.Id}':\n{text}{err.GetAwaiter().GetResult()}");
        }

        return output;
    }
}
