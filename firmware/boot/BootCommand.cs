using SnicRuntime.Contracts.Images;
using System.Globalization;
using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Update;

namespace SnicRuntime.Firmware.Boot;

/// <summary><c>snic-firmware boot</c>: parses the supervisor's options and runs <see cref="BootSupervisor"/>.</summary>
internal static class BootCommand
{
    public const string Usage = """
        usage: snic-firmware boot --slots DIR [--board FILE] [--health-timeout S] [-- FIRMWARE OPTIONS]
          --slots DIR          the card's firmware slots (A/B) and boot state; made if missing
          --board FILE         the board of the factory firmware (default: board.json beside it)
          --health-timeout S   seconds a newly installed slot has to report healthy (default 30)
          everything after --  passed to every firmware started (agent, credentials, --image-trust, ...)
        """;

    public static int Run(IReadOnlyList<string> args)
    {
        string? slots = null;
        string? board = null;
        double timeout = 30;
        var passthrough = new List<string>();
        var errors = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                passthrough.AddRange(args.Skip(i + 1));
                break;
            }

            if (a is "--help" or "-h")
            {
                Console.WriteLine(Usage);
                return 0;
            }

            if (a is not ("--slots" or "--board" or "--health-timeout"))
            {
                errors.Add($"unknown option '{a}'");
                continue;
            }

            if (i + 1 >= args.Count)
            {
                errors.Add($"{a}: needs a value");
                break;
            }

            string v = args[++i];
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

            Console.Error.WriteLine(Usage);
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
