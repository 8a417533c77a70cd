using System.CommandLine;
using SnicRuntime.Contracts.Images;
using System.Globalization;
using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Update;

namespace SnicRuntime.Firmware.Boot;

/// <summary><c>snic-firmware boot</c>: parses the supervisor's options and runs <see cref="BootSupervisor"/>.</summary>
internal static class BootCommand
{
    private static readonly OptionSpec[] s_specs =
    [
        new("--slots", "DIR", "the card's firmware slots (A/B) and boot state; made if missing (required)"),
        new("--board", "FILE", "the board of the factory firmware (default: board.json beside it)"),
        new("--health-timeout", "S", "seconds a newly installed slot has to report healthy (default 30)"),
    ];

    internal static Command Command()
    {
        var boot = new Command("boot", "The boot supervisor: starts the firmware from the active slot, boots a new slot on trial, commits it when it reports healthy and rolls back by itself when it does not. Everything after -- is passed to every firmware started (agent, credentials, --image-trust, ...).");
        CommandLines.AddOptions(boot, s_specs);
        return boot;
    }

    public static int Run(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? slots = null;
        string? board = null;
        double timeout = 30;
        int split = args.ToList().IndexOf("--");
        var passthrough = split < 0 ? new List<string>() : args.Skip(split + 1).ToList();
        var errors = new List<string>();
        List<(string Name, string Value)> given = CommandLines.Parse(FirmwareOptions.Command(), ["boot", .. split < 0 ? args : args.Take(split)], errors, out bool help);
        if (help)
        {
            CommandLines.WriteHelp(FirmwareOptions.Command(), "boot");
            return 0;
        }

        foreach ((string a, string v) in given)
        {
            switch (a)
            {
                case "--slots":
                    slots = v;
                    break;
                case "--board":
                    board = Path.GetFullPath(v);
                    break;
                default:
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out timeout) || timeout <= 0 || timeout > 3600)
                    {
                        errors.Add($"--health-timeout: '{v}' is not a number of seconds in (0, 3600]");
                    }

                    break;
            }
        }

        if (slots is null)
        {
            errors.Add("--slots DIR is required");
        }

        if (errors.Count > 0)
        {
            foreach (string e in errors)
            {
                Console.Error.WriteLine($"snic-firmware boot: {e}");
            }

            Console.Error.WriteLine("snic-firmware boot: the options are listed by snic-firmware boot --help");
            return 2;
        }

        Directory.CreateDirectory(slots!);
        string factory = Path.GetDirectoryName(Environment.ProcessPath ?? AppContext.BaseDirectory) ?? ".";
        if (Path.GetFileName(factory) == "bin")
        {
            factory = Path.GetDirectoryName(factory)!; // an installed image: DIR/bin/snic-firmware beside DIR/board.json
        }

        var store = new SlotStore(Path.GetFullPath(slots!), factory);
        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var supervisor = new BootSupervisor(store, TimeSpan.FromSeconds(timeout), passthrough, board,
            line => Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} snic-boot: {line}"));
        try
        {
            return supervisor.Run(stop.Token);
        }
        catch (ImageException e)
        {
            Console.Error.WriteLine($"snic-firmware boot: {e.Message}");
            return 1;
        }
    }
}
