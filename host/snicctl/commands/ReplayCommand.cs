using System.CommandLine;
using SnicRuntime.Management.Images;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl replay --plan p.json --in x.pcap [--in-port N] [--ports N] --out-dir d</c>: runs a
/// capture through the full pipeline as the emulated board would (by running the firmware executable:
/// <c>snic-firmware replay</c>); writes d/port&lt;N&gt;.pcap for
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

        // The plan and the capture are checked here so their errors read as snicctl's; the replay
        // itself runs in the firmware executable (the host never links the dataplane).
        int rc = PlanFiles.Load(planPath, portCount, out _);
        if (rc != ExitCodes.Ok)
        {
            return rc;
        }

        try
        {
            _ = PcapReader.ReadAll(inputPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PcapFormatException)
        {
            Console.Error.WriteLine($"snicctl replay: cannot read capture '{inputPath}': {e.Message}");
            return ExitCodes.InputError;
        }

        System.Diagnostics.ProcessStartInfo? start = FirmwareBinary.Start(
            ["replay", "--plan", planPath, "--in", inputPath, "--in-port", $"{inPort}", "--ports", $"{portCount}", "--out-dir", outDir], out string why);
        if (start is null)
        {
            Console.Error.WriteLine($"snicctl replay: {why}");
            return ExitCodes.InputError;
        }

        using System.Diagnostics.Process firmware = System.Diagnostics.Process.Start(start)!;
        firmware.WaitForExit();
        return firmware.ExitCode;
    }
}
