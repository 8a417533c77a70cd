using System.CommandLine;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl replay --plan p.json --in x.pcap [--in-port N] [--ports N] --out-dir d</c>: runs a
/// capture through the full pipeline as the emulated board would; writes d/port&lt;N&gt;.pcap for
/// every port and d/summary.json (counters, drops by reason).
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var plan = new Option<string>("--plan") { Description = "change-plan JSON file", Required = true };
        var input = new Option<string>("--in") { Description = "capture to replay (pcap, Ethernet)", Required = true };
        var inPort = new Option<int>("--in-port") { Description = "port the capture arrives on", DefaultValueFactory = _ => 0 };
        var ports = new Option<int>("--ports") { Description = "ports on the emulated board", DefaultValueFactory = _ => 2 };
        var outDir = new Option<string>("--out-dir") { Description = "directory for port<N>.pcap and summary.json", Required = true };
        var command = new Command("replay", "run a capture through the pipeline and record what each port emits") { plan, input, inPort, ports, outDir };
        command.SetAction(parse => Run(parse.GetValue(plan)!, parse.GetValue(input)!, parse.GetValue(inPort), parse.GetValue(ports), parse.GetValue(outDir)!));
        return command;
    }

    private static int Run(string planPath, string inputPath, int inPort, int portCount, string outDir)
    {
        if (portCount is < 1 or > 64)
        {
            Console.Error.WriteLine($"snicctl replay: --ports {portCount} is out of range (1..64)");
            return ExitCodes.Usage;
        }

        if (inPort < 0 || inPort >= portCount)
        {
            Console.Error.WriteLine($"snicctl replay: --in-port {inPort} does not exist (the board has ports 0..{portCount - 1})");
            return ExitCodes.Usage;
        }

        int rc = PlanFiles.Load(planPath, portCount, out PolicyStore store);
        if (rc != ExitCodes.Ok)
        {
            return rc;
        }

        List<PcapRecord> records;
        try
        {
            records = PcapReader.ReadAll(inputPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PcapFormatException)
        {
            Console.Error.WriteLine($"snicctl replay: cannot read capture '{inputPath}': {e.Message}");
            return ExitCodes.InputError;
        }

        ReplaySummary summary;
        try
        {
            summary = PcapReplay.Run(store, records, inPort, portCount, outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"snicctl replay: cannot write to '{outDir}': {e.Message}");
            return ExitCodes.InputError;
        }

        string json = summary.ToJson();
        File.WriteAllText(Path.Combine(outDir, "summary.json"), json);
        Console.WriteLine($"replayed {summary.PacketsIn} packets: {summary.PacketsOut} out, {summary.Dropped} dropped");
        foreach ((string reason, long n) in summary.DropsByReason.OrderByDescending(x => x.Value))
        {
            Console.WriteLine($"  drop {reason}: {n}");
        }

        Console.WriteLine($"outputs in {outDir} (port<N>.pcap, summary.json)");
        return ExitCodes.Ok;
    }
}
