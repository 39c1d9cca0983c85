namespace Milter.TestKit;
