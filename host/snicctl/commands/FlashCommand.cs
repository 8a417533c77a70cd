using SnicRuntime.Contracts.Images;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Images;
using Spectre.Console;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl flash CARD IMAGE</c>: upload through the card's agent (the card verifies the signature
/// and every hash, installs into its inactive slot), reboot the card into it, and wait for the
/// verdict: committed once the new firmware reports healthy, or rolled back by the card itself.
/// </summary>
internal static class FlashCommand
{
    public static Command Create()
    {
        var card = new Argument<string>("card") { Description = "card name" };
        var image = new Argument<string>("image") { Description = "signed image: a file (snicctl image build) or BOARD@VERSION from the fleet's catalogue (snicctl image list)" };
        var wait = new Option<double>("--wait") { Description = "seconds to wait for the card to commit or roll back", DefaultValueFactory = _ => 120 };
        var command = new Command("flash", "install a signed firmware image on a card (A/B slots, rolls back by itself)") { card, image, wait };
        command.SetAction((parse, cancel) => FleetCommands.WithStore(parse, "flash", async store =>
        {
            string name = parse.GetValue(card)!;
            string path = parse.GetValue(image)!;
            using ManagementStore state = State.Open(parse);
            // This host's inventory first, then the fleet's: a card another host added is flashed the same way.
            Card? target = state.FindCard(name) ?? (await new FleetInventory(store).All(cancel)).FirstOrDefault(c => c.Name == name);
            if (target is null)
            {
                Console.Error.WriteLine($"snicctl flash: no card named '{name}' (snicctl cards list)");
                return ExitCodes.Rejected;
            }

            FileStream file;
            ImageManifest manifest;
            try
            {
                if (ImageCatalogue.TryParseName(path, out string board, out string version))
                {
                    ImageRecord catalogued = await new ImageCatalogue(store).Find(board, version, cancel)
                        ?? throw new ImageException([$"no image {board}@{version} in the catalogue (snicctl image list)"]);
                    file = await ImageCatalogue.Open(catalogued, cancel);
                    path = catalogued.Location;
                }
                else
                {
                    file = File.OpenRead(path);
                }

                manifest = ImageManifest.Parse(ImageArchive.Read(file, ImageArchive.Index(file).GetValueOrDefault(ImageLayout.Manifest)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl flash: cannot read {path}: {e.Message}");
                return ExitCodes.InputError;
            }
            catch (ImageException e)
            {
                Console.Error.WriteLine($"snicctl flash: {path}: {e.Message}");
                return ExitCodes.Rejected;
            }

            await using (file)
            {
                ManagementIdentity? identity = State.Identity(parse);
                using var client = new AgentClient(target, TimeSpan.FromMinutes(5), identity);
                AgentReply before = await client.Get("/v1/firmware", cancel);
                if (!before.Ok)
                {
                    Console.Error.WriteLine($"snicctl flash: {before.Reason}");
                    return before.Status == 0 ? ExitCodes.Unreachable : ExitCodes.Rejected;
                }

                if (before.Body!.Value.GetProperty("refusal").GetString() is string refusal)
                {
                    Console.Error.WriteLine($"snicctl flash: card '{name}' cannot be flashed: {refusal}");
                    return ExitCodes.Rejected;
                }

                long bootsBefore = before.Body.Value.GetProperty("boot_count").GetInt64();
                Console.WriteLine($"flashing {path} (board {manifest.Board}, version {manifest.Version}) onto card '{name}'");
                file.Position = 0;
                AgentReply installed = await Upload(client, file, cancel);
                if (!installed.Ok)
                {
                    Console.Error.WriteLine($"snicctl flash: card '{name}' refused the image: {installed.Reason}");
                    if (installed.Body is JsonElement b && b.TryGetProperty("errors", out JsonElement errors) && errors.ValueKind == JsonValueKind.Array)
                    {
                        foreach (JsonElement e in errors.EnumerateArray())
                        {
                            Console.Error.WriteLine($"  {e.GetProperty("reason").GetString()}");
                        }
                    }

                    return installed.Status == 0 ? ExitCodes.Unreachable : ExitCodes.Rejected;
                }

                string slot = installed.Body!.Value.GetProperty("slot").GetString()!;
                Console.WriteLine($"card '{name}' verified the image and installed it in slot {slot}; rebooting into it");
                AgentReply reboot = await client.Send(HttpMethod.Post, "/v1/firmware/reboot", null, cancel);
                if (!reboot.Ok)
                {
                    Console.Error.WriteLine($"snicctl flash: card '{name}' did not reboot: {reboot.Reason}");
                    return ExitCodes.Rejected;
                }

                int verdict = await AwaitVerdict(target, identity, slot, bootsBefore, TimeSpan.FromSeconds(parse.GetValue(wait)), cancel);
                if (verdict == ExitCodes.Ok)
                {
                    // The new firmware started empty: give it the newest generation now (a card of
                    // an HA set gets its share from the leading controller instead).
                    await using var fleet = new FleetDelivery(store, state, identity);
                    foreach (CardOutcome o in await new PlanDelivery(state, store, identity) { Delegated = fleet.ManagedCards, FleetCards = fleet.InventoryCards }.Reconcile(cancel))
                    {
                        Console.WriteLine($"card '{o.Card}': generation {o.Generation} {o.State} {o.Detail}");
                    }
                }

                return verdict;
            }
        }));
        return command;
    }

    private static async Task<AgentReply> Upload(AgentClient client, FileStream file, CancellationToken cancel)
    {
        long total = file.Length;
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AgentReply? reply = null;
            await AnsiConsole.Progress().StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask("upload", maxValue: total);
                reply = await client.Upload("/v1/firmware/image", file, new Progress<long>(sent => task.Value = sent), cancel);
                task.Value = total;
            });
            return reply!;
        }

        // Not a terminal: a line per quarter, for logs.
        int reported = 0;
        var progress = new Progress<long>(sent =>
        {
            int quarter = (int)(sent * 4 / Math.Max(1, total));
            if (quarter > reported)
            {
                reported = quarter;
                Console.WriteLine($"  uploaded {sent * 100 / Math.Max(1, total)}% ({sent / 1024} of {total / 1024} KiB)");
            }
        });
        return await client.Upload("/v1/firmware/image", file, progress, cancel);
    }

    /// <summary>Polls the card until the boot after ours has a verdict on <paramref name="slot"/>.</summary>
    private static async Task<int> AwaitVerdict(Card card, ManagementIdentity? identity, string slot, long bootsBefore, TimeSpan wait, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(3), identity);
        var clock = Stopwatch.StartNew();
        string? lastSeen = null;
        while (clock.Elapsed < wait)
        {
            await Task.Delay(250, cancel);
            AgentReply reply = await client.Get("/v1/firmware", cancel);
            if (!reply.Ok)
            {
                continue; // rebooting
            }

            JsonElement b = reply.Body!.Value;
            lastSeen = b.GetProperty("last_result").GetString();
            if (b.GetProperty("boot_count").GetInt64() <= bootsBefore || b.GetProperty("trial").ValueKind == JsonValueKind.String)
            {
                continue; // the old firmware still answering, or the new one still on trial
            }

            if (b.GetProperty("active").GetString() == slot && lastSeen?.StartsWith(slot + " committed", StringComparison.Ordinal) == true)
            {
                Console.WriteLine($"card '{card.Name}' runs slot {slot} ({b.GetProperty("running_version").GetString()}): {lastSeen}, {clock.Elapsed.TotalSeconds:F1} s after the reboot");
                return ExitCodes.Ok;
            }

            if (lastSeen?.StartsWith("rolled back from " + slot, StringComparison.Ordinal) == true)
            {
                Console.Error.WriteLine($"snicctl flash: card '{card.Name}' {lastSeen}; it runs slot {b.GetProperty("running_slot").GetString()} ({b.GetProperty("running_version").GetString()})");
                return ExitCodes.Rejected;
            }
        }

        Console.Error.WriteLine($"snicctl flash: card '{card.Name}' gave no verdict within {wait.TotalSeconds:F0} s (last seen: {lastSeen ?? "no answer"})");
        return ExitCodes.Unreachable;
    }
}
