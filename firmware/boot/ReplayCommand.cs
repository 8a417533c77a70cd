using System.CommandLine;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Firmware.Boot;

/// <summary>
/// <c>snic-firmware replay --plan p.json --in x.pcap [--in-port N] [--ports N] --out-dir d</c>:
/// runs a capture through this firmware's pipeline as the emulated board would and writes
/// d/port&lt;N&gt;.pcap for every port and d/summary.json (counters, drops by reason).
/// <c>snicctl replay</c> runs this, so a replay exercises the card's own binary.
/// Exit codes as snicctl's: 0 ok, 1 plan refused, 2 bad arguments, 3 an input unreadable.
/// </summary>
internal static class ReplayCommand
{
    private static readonly OptionSpec[] s_specs =
    [
        new("--plan", "FILE", "the change plan (required)"),
        new("--in", "CAPTURE", "the capture to replay, pcap with Ethernet frames (required)"),
        new("--in-port", "N", "the port the capture arrives on (default 0)"),
        new("--ports", "N", "ports on the emulated board (default 2)"),
        new("--out-dir", "DIR", "where port<N>.pcap and summary.json are written (required)"),
    ];

    internal static Command Command()
    {
        var replay = new Command("replay", "Runs a capture through this firmware's pipeline as the emulated board would and writes what each port emits.");
        CommandLines.AddOptions(replay, s_specs);
        return replay;
    }

    public static int Run(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        List<(string Name, string Value)> given = CommandLines.Parse(FirmwareOptions.Command(), ["replay", .. args], errors, out bool help);
        if (help)
        {
            CommandLines.WriteHelp(FirmwareOptions.Command(), "replay");
            return 0;
        }

        if (errors.Count > 0)
        {
            return Fail(errors[0], 2);
        }

        Dictionary<string, string> values = given.ToDictionary(g => g.Name, g => g.Value, StringComparer.Ordinal);
        foreach (string required in new[] { "--plan", "--in", "--out-dir" })
        {
            if (!values.ContainsKey(required))
            {
                return Fail($"{required} is required", 2);
            }
        }

        if (!Number(values, "--ports", 2, out int portCount) || portCount is < 1 or > 64)
        {
            return Fail($"--ports {values.GetValueOrDefault("--ports")} is out of range (1..64)", 2);
        }

        if (!Number(values, "--in-port", 0, out int inPort) || inPort < 0 || inPort >= portCount)
        {
            return Fail($"--in-port {values.GetValueOrDefault("--in-port")} does not exist (the board has ports 0..{portCount - 1})", 2);
        }

        string planPath = values["--plan"], inputPath = values["--in"], outDir = values["--out-dir"];
        string json;
        try
        {
            json = File.ReadAllText(planPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot read plan '{planPath}': {e.Message}", 3);
        }

        var store = new PolicyStore(portCount);
        ApplyResult applied = store.Apply(json);
        if (!applied.Accepted)
        {
            Console.Error.WriteLine($"snic-firmware replay: plan '{planPath}' has {applied.Errors.Count} error(s); nothing applied:");
            foreach (PlanError error in applied.Errors)
            {
                Console.Error.WriteLine($"  {error.Path}: {error.Reason}");
            }

            return 1;
        }

        List<PcapRecord> records;
        try
        {
            records = PcapReader.ReadAll(inputPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PcapFormatException)
        {
            return Fail($"cannot read capture '{inputPath}': {e.Message}", 3);
        }

        ReplaySummary summary;
        try
        {
            summary = PcapReplay.Run(store, records, inPort, portCount, outDir);
            File.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJson());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot write to '{outDir}': {e.Message}", 3);
        }

        Console.WriteLine($"replayed {summary.PacketsIn} packets: {summary.PacketsOut} out, {summary.Dropped} dropped");
        foreach ((string reason, long n) in summary.DropsByReason.OrderByDescending(x => x.Value))
        {
            Console.WriteLine($"  drop {reason}: {n}");
        }

        Console.WriteLine($"outputs in {outDir} (port<N>.pcap, summary.json)");
        return 0;
    }

    private static bool Number(Dictionary<string, string> values, string name, int fallback, out int value)
    {
        value = fallback;
        return !values.TryGetValue(name, out string? text) || int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine($"snic-firmware replay: {message}");
        if (code == 2)
        {
            Console.Error.WriteLine("snic-firmware replay: the options are listed by snic-firmware replay --help");
        }

        return code;
    }
}
