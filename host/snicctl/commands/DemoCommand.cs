using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SnicRuntime.Management;
using Spectre.Console;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl demo</c>: two emulated cards as separate firmware processes on loopback, enrolled
/// into a throw-away inventory, given the example plan through their agents, driving generated
/// DASH traffic while snicctl shows their counters; everything stops by itself.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "how long the cards run traffic", DefaultValueFactory = _ => 8 };
        var firmware = new Option<string?>("--firmware") { Description = "snic-firmware binary (default: out/firmware/linux-x64/snic-firmware, else the built snic-firmware.dll)" };
        var command = new Command("demo", "run two emulated cards, apply the example plan through their agents, show live counters") { seconds, firmware };
        command.SetAction(async (parse, cancel) => await Run(parse.GetValue(seconds), parse.GetValue(firmware), cancel));
        return command;
    }

    private static async Task<int> Run(int seconds, string? firmwarePath, CancellationToken cancel)
    {
        if (seconds is < 1 or > 3600)
        {
            Console.Error.WriteLine($"snicctl demo: --seconds {seconds} is out of range (1..3600)");
            return ExitCodes.Usage;
        }

        string? root = SnicRuntime.Management.Images.FirmwarePublisher.FindSourceTree();
        (string program, string[] prefix)? fw = ResolveFirmware(firmwarePath, root);
        string? plan = root is null ? null : Path.Combine(root, "examples", "plans", "demo.json");
        string? board = root is null ? null : Path.Combine(root, "boards", "emulated", "emulated.json");
        if (fw is null || plan is null || !File.Exists(plan) || board is null)
        {
            Console.Error.WriteLine("snicctl demo: run it from the repository (it needs the firmware build, examples/plans/demo.json and boards/); ./run.sh builds the firmware");
            return ExitCodes.InputError;
        }

        string work = Directory.CreateTempSubdirectory("snicctl-demo-").FullName;
        var cards = new List<(string Name, Process Process, Card Card)>();
        var errors = new Dictionary<string, Task<string>>();
        try
        {
            using var state = new ManagementStore(Path.Combine(work, "state.db"));
            // Mutual TLS: this demo's own authority issues each card a certificate (enrollment)
            // and snicctl a client certificate; nothing else is trusted on either side.
            ManagementIdentity identity = ManagementIdentity.LoadOrCreate(work);
            foreach (string name in new[] { "card-a", "card-b" })
            {
                int port = FreePort();
                string pki = Path.Combine(work, name);
                identity.Enroll(name, pki);
                var psi = new ProcessStartInfo(fw.Value.program) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (string a in fw.Value.prefix.Concat(["--board", board, "--agent", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--agent-tls", pki, "--seconds", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--flows", "5000", "--rate", "200000",
                    "--workers", "1", "--plan-wait", "60"])) // two cards share this machine's cores with snicctl: one spinning worker each
                {
                    psi.ArgumentList.Add(a);
                }

                Process p = Process.Start(psi)!;
                _ = p.StandardOutput.ReadToEndAsync(cancel); // drained; the cards' own logs are not the demo's output
                errors[name] = p.StandardError.ReadToEndAsync(cancel);
                var card = new Card(name, new Uri($"https://127.0.0.1:{port}/"), "", "emulated", "standalone", DateTimeOffset.UtcNow);
                state.AddCard(card);
                cards.Add((name, p, card));
                Console.WriteLine($"started {name}: firmware pid {p.Id}, agent {card.Address} (mutual TLS)");
            }

            foreach (var c in cards)
            {
                if (!await WaitHealthy(c.Card, c.Process, TimeSpan.FromSeconds(15), identity, cancel))
                {
                    string why = c.Process.HasExited ? $"its firmware exited with code {c.Process.ExitCode}: {(await errors[c.Name]).Trim()}" : "no answer within 15 s";
                    Console.Error.WriteLine($"snicctl demo: {c.Name} at {c.Card.Address}: {why}");
                    return ExitCodes.Unreachable;
                }
            }

            await using var desired = new SnicRuntime.Management.Store.SqliteStateStore(Path.Combine(work, "fleet.db"));
            ApplyOutcome applied = await new PlanDelivery(state, desired, identity).Apply(await File.ReadAllTextAsync(plan, cancel), cancel);
            Console.WriteLine($"applied examples/plans/demo.json as generation {applied.Generation}: " +
                string.Join(", ", applied.Cards.Select(c => $"{c.Card} {c.State}")));
            if (!applied.Journaled || applied.Cards.Any(c => c.State != "acked"))
            {
                return ExitCodes.Unreachable;
            }

            // Live counters once a second until both cards have finished their run: a live table
            // on a terminal, one line per card per second otherwise (logs, tests).
            var collector = new TelemetryCollector(state, identity);
            var last = new Dictionary<string, long>();
            async Task<IReadOnlyList<CardFigures>> Tick()
            {
                await Task.Delay(1000, cancel);
                await collector.Collect(cancel);
                var up = collector.Latest.Where(f => f.Up).ToList();
                foreach (CardFigures f in up)
                {
                    last[f.Card] = f.Sample!.RxTotal;
                }

                return up;
            }

            bool Running() => cards.Any(c => !c.Process.HasExited) && !cancel.IsCancellationRequested;
            if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
            {
                await AnsiConsole.Live(new Text("cards running…")).StartAsync(async ctx =>
                {
                    while (Running())
                    {
                        ctx.UpdateTarget(CardView.Render(await Tick(), rates: true));
                    }
                });
            }
            else
            {
                while (Running())
                {
                    foreach (CardFigures f in await Tick())
                    {
                        Console.WriteLine($"{f.Card}: {f.Workers.Sum(w => w.RxPps) / 1000.0,8:F1} Kpps  rx {f.Sample!.RxTotal,10}  drops {f.Sample.DropsTotal,7}  " +
                            $"flows {f.FlowsActive,7}  cycles/pkt {f.Workers.Select(w => w.CyclesPerPacket).DefaultIfEmpty().Max(),5:F0}  generation {f.Generation}");
                    }
                }
            }

            int failures = 0;
            foreach (var c in cards)
            {
                if (!c.Process.WaitForExit(TimeSpan.FromSeconds(15)))
                {
                    c.Process.Kill(entireProcessTree: true);
                    failures++;
                    Console.Error.WriteLine($"snicctl demo: {c.Name} did not stop by itself; killed");
                    continue;
                }

                Console.WriteLine($"{c.Name} finished: exit {c.Process.ExitCode} ({(c.Process.ExitCode == 0 ? "every packet accounted for" : "see its log")}), " +
                    $"last counters read: rx {last.GetValueOrDefault(c.Name)}");
                failures += c.Process.ExitCode == 0 ? 0 : 1;
            }

            return failures == 0 ? ExitCodes.Ok : ExitCodes.Rejected;
        }
        finally
        {
            foreach (var c in cards.Where(c => !c.Process.HasExited))
            {
                c.Process.Kill(entireProcessTree: true);
            }

            foreach (var c in cards)
            {
                c.Process.Dispose();
            }

            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<bool> WaitHealthy(Card card, Process process, TimeSpan timeout, ManagementIdentity identity, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(2), identity);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !process.HasExited)
        {
            if ((await client.Get("/v1/health", cancel)).Ok)
            {
                return true;
            }

            await Task.Delay(50, cancel);
        }

        return false;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static (string, string[])? ResolveFirmware(string? given, string? root)
    {
        if (given is not null)
        {
            return File.Exists(given) ? (given, []) : null;
        }

        if (root is null)
        {
            return null;
        }

        string aot = Path.Combine(root, "out", "firmware", "linux-x64", "snic-firmware");
        if (File.Exists(aot))
        {
            return (aot, []);
        }

        string dll = Path.Combine(root, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
        return File.Exists(dll) ? ("dotnet", [dll]) : null;
    }
}
