using SnicRuntime.Contracts.Images;
using System.CommandLine;
using System.Security.Cryptography;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Images;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl image build|verify|keygen|add|list|remove</c>: signed firmware images for boards, and the fleet's catalogue of them.</summary>
internal static class ImageCommands
{
    public static Command Create()
    {
        var image = new Command("image", "build and verify signed firmware images");
        image.Subcommands.Add(Build());
        image.Subcommands.Add(Verify());
        image.Subcommands.Add(Keygen());
        image.Subcommands.Add(Add());
        image.Subcommands.Add(List());
        image.Subcommands.Add(Remove());
        return image;
    }

    private static Command Build()
    {
        var board = new Option<string>("--board") { Description = "board id (boards/**/<id>.json) or a board file", Required = true };
        var output = new Option<string?>("--out") { Description = "image file to write (default: out/images/<board>-<version>.snimg)" };
        var firmware = new Option<string?>("--firmware") { Description = "an already published firmware directory (default: publish it now for the board)" };
        var config = new Option<string?>("--config") { Description = "the image's default config: a JSON object of firmware options" };
        var version = new Option<string?>("--version") { Description = "image version (default: the firmware's own)" };
        var key = new Option<string?>("--key") { Description = "signing key, PKCS#8 PEM (default: the management plane's, made on first use)" };
        var bootRoot = new Option<string?>("--boot-root") { Description = "QEMU boards of another architecture: a root with its kernel, busybox and libraries (boards/qemu/arm64-root.sh)" };
        var command = new Command("build", "publish the NativeAOT firmware for a board and pack a signed image") { board, output, firmware, config, version, key, bootRoot };
        command.SetAction(async (parse, cancel) =>
        {
            string? boardFile = ResolveBoard(parse.GetValue(board)!, out string? why);
            if (boardFile is null)
            {
                Console.Error.WriteLine($"snicctl image build: {why}");
                return ExitCodes.InputError;
            }

            BoardDefinition definition;
            try
            {
                definition = BoardLoader.Load(boardFile);
            }
            catch (BoardException e)
            {
                Console.Error.WriteLine($"snicctl image build: {e.Message}");
                return ExitCodes.InputError;
            }

            try
            {
                using ECDsa signer = LoadKey(parse, parse.GetValue(key));
                string firmwareDir = parse.GetValue(firmware) ?? PublishFor(definition);
                string v = parse.GetValue(version) ?? (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(ImageCommands).Assembly)?.InformationalVersion ?? "unknown");
                string outPath = parse.GetValue(output) ?? Path.Combine("out", "images", $"{definition.Id}-{SafeName(v)}.snimg");
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
                ImageBuilder.Build(new ImageBuildRequest(boardFile, outPath, firmwareDir, parse.GetValue(config), v, parse.GetValue(bootRoot)), signer, Console.WriteLine);
                // Into the fleet's catalogue, so any host can flash it by name.
                return await Catalogue(parse, "image build", outPath, [signer], cancel);
            }
            catch (ImageException e)
            {
                foreach (string error in e.Errors)
                {
                    Console.Error.WriteLine($"snicctl image build: {error}");
                }

                return ExitCodes.Rejected;
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"snicctl image build: {e.Message}");
                return ExitCodes.Rejected;
            }
        });
        return command;
    }

    private static Command Verify()
    {
        var file = new Argument<string>("image") { Description = "image file" };
        var key = new Option<string?>("--key") { Description = "trusted public key(s), PEM (default: the management plane's)" };
        var board = new Option<string?>("--board") { Description = "also require the image to be for this board id" };
        var command = new Command("verify", "check an image's signature and the SHA-256 of every file in it") { file, key, board };
        command.SetAction(parse =>
        {
            string trust = parse.GetValue(key) ?? SigningKey.PublicPath(State.Directory(parse));
            try
            {
                List<ECDsa> trusted = ImageKeys.LoadTrusted(trust);
                using FileStream image = File.OpenRead(parse.GetValue(file)!);
                VerifiedImage v = ImageVerifier.Verify(image, trusted, parse.GetValue(board));
                ImageManifest m = v.Manifest;
                Console.WriteLine($"image {parse.GetValue(file)}: OK, signed by {m.Signer}");
                Console.WriteLine($"  board {m.Board} ({m.Architecture}, {m.RuntimeIdentifier}{(m.InstructionSet is null ? "" : ", " + m.InstructionSet)}), version {m.Version}, built {m.Created}");
                foreach (ImageFile f in m.Files)
                {
                    Console.WriteLine($"  {f.Sha256}  {f.Size,10}  {f.Path}");
                }

                return ExitCodes.Ok;
            }
            catch (ImageException e)
            {
                Console.Error.WriteLine($"snicctl image verify: {parse.GetValue(file)} is refused:");
                foreach (string error in e.Errors)
                {
                    Console.Error.WriteLine($"  {error}");
                }

                return ExitCodes.Rejected;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl image verify: cannot read {parse.GetValue(file)}: {e.Message}");
                return ExitCodes.InputError;
            }
        });
        return command;
    }

    private static Command Keygen()
    {
        var output = new Option<string>("--out") { Description = "directory for image-signing.key and image-signing.pub", Required = true };
        var command = new Command("keygen", "make a new image-signing key pair (ECDSA P-256)") { output };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(output)!;
            string priv = Path.Combine(dir, "image-signing.key");
            if (File.Exists(priv))
            {
                Console.Error.WriteLine($"snicctl image keygen: {priv} exists; not overwriting a signing key");
                return ExitCodes.Rejected;
            }

            Directory.CreateDirectory(dir);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            SigningKey.Write(key, priv, Path.Combine(dir, "image-signing.pub"));
            Console.WriteLine($"key {ImageKeys.KeyId(key)}: {priv} (keep it secret), {Path.Combine(dir, "image-signing.pub")} (start cards with --image-trust)");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Add()
    {
        var file = new Argument<string>("image") { Description = "image file" };
        var key = new Option<string?>("--key") { Description = "trusted public key(s), PEM (default: the management plane's)" };
        var command = new Command("add", "verify an image and add it to the fleet's catalogue (as BOARD@VERSION)") { file, key };
        command.SetAction(async (parse, cancel) =>
        {
            List<ECDsa> trusted;
            try
            {
                trusted = ImageKeys.LoadTrusted(parse.GetValue(key) ?? SigningKey.PublicPath(State.Directory(parse)));
            }
            catch (Exception e) when (e is ImageException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl image add: no trusted key: {e.Message}");
                return ExitCodes.InputError;
            }

            return await Catalogue(parse, "image add", parse.GetValue(file)!, trusted, cancel);
        });
        return command;
    }

    private static async Task<int> Catalogue(ParseResult parse, string command, string path, IReadOnlyList<ECDsa> trusted, CancellationToken cancel = default) =>
        await FleetCommands.WithStore(parse, command, async store =>
        {
            try
            {
                (ImageRecord image, bool added) = await new ImageCatalogue(store).Add(path, trusted, $"{Environment.UserName}@{Environment.MachineName}", cancel);
                Console.WriteLine($"{image.Board}@{image.Version} {(added ? "added to" : "already in")} the catalogue: {image.Location} ({image.Size} bytes, sha256 {image.Sha256})");
                return ExitCodes.Ok;
            }
            catch (ImageException e)
            {
                Console.Error.WriteLine($"snicctl {command}: {path} is not catalogued: {e.Message}");
                return ExitCodes.Rejected;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"snicctl {command}: cannot read {path}: {e.Message}");
                return ExitCodes.InputError;
            }
        });

    private static Command List()
    {
        var command = new Command("list", "the fleet's catalogue of images");
        command.SetAction((parse, cancel) => FleetCommands.WithStore(parse, "image list", async store =>
        {
            IReadOnlyList<ImageRecord> images = await new ImageCatalogue(store).All(cancel);
            if (parse.GetValue(State.Json))
            {
                State.WriteJson(w =>
                {
                    w.WriteStartArray();
                    foreach (ImageRecord i in images)
                    {
                        w.WriteStartObject();
                        w.WriteString("board", i.Board);
                        w.WriteString("version", i.Version);
                        w.WriteString("architecture", i.Architecture);
                        w.WriteString("signer", i.Signer);
                        w.WriteString("built", i.Built);
                        w.WriteString("sha256", i.Sha256);
                        w.WriteNumber("size", i.Size);
                        w.WriteString("location", i.Location);
                        w.WriteString("added", i.Added);
                        w.WriteString("by", i.By);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                });
                return ExitCodes.Ok;
            }

            Console.WriteLine($"{"IMAGE",-32} {"ARCH",-8} {"SIZE",10}  {"SHA256",-16}  LOCATION");
            foreach (ImageRecord i in images)
            {
                Console.WriteLine($"{i.Board + "@" + i.Version,-32} {i.Architecture,-8} {i.Size,10}  {i.Sha256[..16],-16}  {i.Location}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Remove()
    {
        var name = new Argument<string>("image") { Description = "BOARD@VERSION" };
        var command = new Command("remove", "take an image out of the fleet's catalogue (its file stays)") { name };
        command.SetAction((parse, cancel) => FleetCommands.WithStore(parse, "image remove", async store =>
        {
            if (!ImageCatalogue.TryParseName(parse.GetValue(name)!, out string board, out string version))
            {
                Console.Error.WriteLine($"snicctl image remove: '{parse.GetValue(name)}' is not BOARD@VERSION");
                return ExitCodes.Usage;
            }

            if (!await new ImageCatalogue(store).Remove(board, version, cancel))
            {
                Console.Error.WriteLine($"snicctl image remove: no image {board}@{version} in the catalogue");
                return ExitCodes.Rejected;
            }

            Console.WriteLine($"{board}@{version} removed from the catalogue");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static ECDsa LoadKey(ParseResult parse, string? path)
    {
        if (path is not null)
        {
            return ImageKeys.LoadPrivate(path);
        }

        ECDsa key = SigningKey.LoadOrCreate(State.Directory(parse), out bool created);
        if (created)
        {
            Console.WriteLine($"made the image-signing key {ImageKeys.KeyId(key)}: {SigningKey.PrivatePath(State.Directory(parse))}; cards trust it with --image-trust {SigningKey.PublicPath(State.Directory(parse))}");
        }

        return key;
    }

    private static string PublishFor(BoardDefinition board)
    {
        string tree = FirmwarePublisher.FindSourceTree()
            ?? throw new InvalidOperationException("publishing the firmware needs the SnicRuntime source tree (run snicctl from a clone), or pass --firmware DIR");
        return FirmwarePublisher.Publish(board, tree, Console.WriteLine);
    }

    /// <summary>A board file path, or the file of a board id found under boards/ in the source tree.</summary>
    internal static string? ResolveBoard(string board, out string? why)
    {
        why = null;
        if (File.Exists(board))
        {
            return board;
        }

        string? tree = FirmwarePublisher.FindSourceTree();
        if (tree is not null)
        {
            string[] found = Directory.GetFiles(Path.Combine(tree, "boards"), board + ".json", SearchOption.AllDirectories);
            if (found.Length == 1)
            {
                return found[0];
            }
        }

        why = $"no board '{board}' (a board file, or an id from boards/: {string.Join(", ", KnownBoards(tree))})";
        return null;
    }

    private static IEnumerable<string> KnownBoards(string? tree) => tree is null ? []
        : Directory.GetFiles(Path.Combine(tree, "boards"), "*.json", SearchOption.AllDirectories).Select(Path.GetFileNameWithoutExtension).Order()!;

    private static string SafeName(string version) => new([.. version.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_')]);
}
